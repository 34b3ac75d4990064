export interface Config {
  /** Configuration of the Model Hub backend plugin. */
  modelHub?: {
    /**
     * (Optional) Where artifacts (model files) are stored, content-addressed
     * by SHA-256. Defaults to the local filesystem at `data/model-hub/store`.
     */
    storage?: {
      /**
       * (Optional) `local` (a folder; one backend instance) or `s3` (an
       * S3-compatible bucket; several instances). Defaults to `local`.
       */
      type?: 'local' | 's3';
      /** (Optional) The local filesystem store. */
      local?: {
        /**
         * (Optional) The folder of the store. A relative path is resolved
         * against the working directory of the backend process (the
         * `packages/backend` folder under `yarn start`). Defaults to
         * `data/model-hub/store`.
         */
        path?: string;
      };
      /** (Optional) The S3 store; required when `type` is `s3`. */
      s3?: {
        /** (Required) The bucket. */
        bucket: string;
        /** (Optional) The region. Defaults to `us-east-1`. */
        region?: string;
        /** (Optional) The endpoint of an S3-compatible service, e.g. MinIO. */
        endpoint?: string;
        /** (Optional) Use path-style URLs. Defaults to false. */
        forcePathStyle?: boolean;
        /** (Optional) A prefix of every object key, e.g. `model-hub/`. Defaults to none. */
        prefix?: string;
        /**
         * (Optional) Local folder where uploads are spooled while they are
         * hashed. Defaults to `<os tmpdir>/model-hub-spool`.
         */
        spoolDir?: string;
        /** (Optional) Multipart part size in MiB (5-5120). Defaults to 8. */
        partSizeMiB?: number;
        /**
         * (Optional) Checksums of requests: `when_supported` (the AWS SDK
         * default) or `when_required` for S3-compatible servers that do not
         * understand them. Defaults to `when_supported`.
         */
        checksums?: 'when_supported' | 'when_required';
        /**
         * (Optional) Static credentials. Defaults to the AWS SDK's credential
         * chain (environment, profile, instance role).
         * @deepVisibility secret
         */
        credentials?: {
          accessKeyId: string;
          secretAccessKey: string;
          sessionToken?: string;
        };
      };
    };
    /** (Optional) Limits of uploads. */
    upload?: {
      /**
       * (Optional) The largest file an upload may store, in MiB. Defaults to
       * 102400 (100 GiB).
       */
      maxFileSizeMiB?: number;
    };
    /** (Optional) Garbage collection of unreferenced blobs. */
    gc?: {
      /**
       * (Optional) Blobs unreferenced for less than this are kept. Defaults to
       * 1 hour.
       */
      gracePeriod?: {
        days?: number;
        hours?: number;
        minutes?: number;
        seconds?: number;
      };
      /** (Optional) How often it runs. Defaults to every 6 hours. */
      schedule?: import('@backstage/backend-plugin-api').SchedulerServiceTaskScheduleDefinitionConfig;
    };
  };
}
