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
      /**
       * (Optional) How uploads and downloads of large files are written:
       * `direct` (`O_DIRECT` from page-aligned memory, past the page cache,
       * where the filesystem allows it), `buffered` (the page cache, with
       * an fdatasync every 64 MiB in the background so dirty data stays
       * bounded) or `auto`: whichever writes durably faster, measured once
       * per filesystem when the first file is written there. Defaults to
       * `auto`.
       */
      writeMode?: 'auto' | 'direct' | 'buffered';
      /**
       * (Optional) The older switch, read when `writeMode` is not set:
       * true is `writeMode: direct`, false is `writeMode: buffered`.
       */
      directIo?: boolean;
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
         * (Optional) The store's multipart uploads are registered in the
         * database while open, with a heartbeat their writer renews (every
         * eighth of this, at most every 15 seconds); a registered upload
         * whose heartbeat is older than this is a dead writer's (its
         * instance was killed), and the store clean-up (at boot, hourly, on
         * `POST /admin/gc`) aborts it. Defaults to 2 minutes.
         */
        multipartStaleAfter?: {
          days?: number;
          hours?: number;
          minutes?: number;
          seconds?: number;
        };
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
    /**
     * (Optional) Resumable (tus) uploads, ZIP model packages and the format
     * inspection of uploaded files. File sizes are limited by
     * `upload.maxFileSizeMiB`.
     */
    uploads?: {
      /**
       * (Optional) Folder of uploads in progress and of package staging;
       * relative paths resolve against the working directory. Defaults to
       * `uploads` next to the local store (same filesystem: finished uploads
       * are renamed into the store), else `data/model-hub/uploads`. Keep it
       * on persistent storage: uploads resume from it after a restart. With
       * more than one backend instance it must be ONE folder shared by all
       * of them (NFS, EFS, a shared volume), at the same path: any instance
       * serves any request of an upload (no sticky sessions).
       */
      directory?: string;
      /**
       * (Optional) Where tus uploads in progress are kept: `file` (default:
       * `directory`, shared by the instances) or `s3` (the bucket of the S3
       * artifact store, `storage.type: s3`, through `@tus/s3-store`: objects
       * `<upload id>`, `<upload id>.info` and `<upload id>.part` at the
       * bucket's root; no shared folder needed). With `s3` the SHA-256 is
       * computed once the upload is complete, by reading the object back,
       * and the object is copied to its content address.
       */
      tusStore?: 'file' | 's3';
      /**
       * (Optional) The lock of each tus upload, shared by all instances
       * through the database: one request writes an upload at a time, a
       * newer request asks the holder to end its request, and a holder
       * that died loses the lock after its lease.
       */
      lock?: {
        /** (Optional) Lease of a holder that stops renewing. Defaults to 15 seconds. */
        lease?: { minutes?: number; seconds?: number; milliseconds?: number };
        /**
         * (Optional) How often a holder renews its lease and looks for a
         * release request (at most half the lease). Defaults to 1 second.
         */
        heartbeat?: { seconds?: number; milliseconds?: number };
        /**
         * (Optional) A request that cannot take the lock in this time
         * answers 423 (tus clients retry). Defaults to 30 seconds.
         */
        acquireTimeout?: {
          minutes?: number;
          seconds?: number;
          milliseconds?: number;
        };
      };
      /**
       * (Optional) Unfinished uploads expire this long after creation. Defaults to 24 hours.
       * Leftovers of interrupted store writes (temporary and spool files, incomplete S3 multipart
       * uploads of this deployment's prefix) are removed once older than this, never sooner.
       */
      expiration?: {
        days?: number;
        hours?: number;
        minutes?: number;
        seconds?: number;
      };
      /** (Optional) Most unfinished uploads per user. Defaults to 50. */
      maxActiveUploadsPerUser?: number;
      /** (Optional) ZIP model packages (`POST /models/{namespace}/{name}/packages`). */
      archive?: {
        /** (Optional) Largest package in MiB. Defaults to `upload.maxFileSizeMiB`. */
        maxArchiveSizeMiB?: number;
        /** (Optional) Largest total uncompressed size in MiB. Defaults to 204800 (200 GiB). */
        maxTotalSizeMiB?: number;
        /** (Optional) Most entries. Defaults to 10000. */
        maxEntries?: number;
        /** (Optional) Highest compression ratio of an entry over 1 MiB. Defaults to 100. */
        maxCompressionRatio?: number;
        /**
         * (Optional) Archives inside a package: `reject` (default) or `store`
         * them as files (their own central directory is still checked).
         */
        nestedArchives?: 'reject' | 'store';
        /**
         * (Optional) Files a package must contain, per model type: patterns
         * with `*` (within a folder), `**` and `|` for alternatives, e.g.
         * `llm: ['config.json', '*.safetensors|*.gguf']`.
         */
        requiredFiles?: { [modelType: string]: string[] };
      };
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
    /**
     * (Optional) The reconcile of catalog-defined `Model` entities into hub
     * rows (the catalog is their source of truth; Models removed from it are
     * orphaned in the hub).
     */
    catalogSync?: {
      /**
       * (Optional) false turns off the scheduled reconcile and the catalog
       * module's notifications of edited Models. Defaults to true.
       */
      enabled?: boolean;
      /**
       * (Optional) false turns off only the catalog module's notifications
       * (edits then arrive with the next pass). Defaults to true.
       */
      notify?: boolean;
      /** (Optional) How often a pass runs. Defaults to every 5 minutes. */
      schedule?: import('@backstage/backend-plugin-api').SchedulerServiceTaskScheduleDefinitionConfig;
    };
    /**
     * (Optional) The retention policy, applied by a scheduled task; without
     * it nothing is archived or released automatically.
     */
    retention?: {
      /**
       * (Optional) Deprecated versions kept per model, newest deprecation
       * first; older deprecated versions are archived.
       */
      keepDeprecated?: number;
      /** (Optional) Deprecated versions older than this are archived. */
      archiveAfter?: {
        days?: number;
        hours?: number;
        minutes?: number;
        seconds?: number;
      };
      /**
       * (Optional) Whether the files of archived versions are removed, their
       * blobs released to the garbage collection. Defaults to true.
       */
      releaseArchivedFiles?: boolean;
      /** (Optional) How often it runs. Defaults to daily. */
      schedule?: import('@backstage/backend-plugin-api').SchedulerServiceTaskScheduleDefinitionConfig;
    };
    /**
     * (Optional) The approvals workflow of versions. The keys of the default
     * policy may also be set per model type or lifecycle in `overrides`.
     */
    approvals?: {
      /**
       * (Optional) Approvals by distinct reviewers that a review round needs
       * (1-20). Defaults to 1.
       */
      requiredApprovals?: number;
      /**
       * (Optional) Groups notified of submissions and decisions, besides the
       * model's owner (`group:default/ml-reviewers` or `ml-reviewers`).
       * Who may review is decided by the permission policy. Defaults to none.
       */
      reviewerGroups?: string | string[];
      /**
       * (Optional) The submitter and the creator of a version cannot approve
       * it. Defaults to true.
       */
      separationOfDuties?: boolean;
      /**
       * (Optional) Checks that must pass (or be waived by an admin) before a
       * version can be submitted, besides checks recorded as required.
       * Defaults to `['model-hub.format', 'model-hub.safety']`, the file
       * inspection's checks (a pickle-based file that is not verified fails
       * `model-hub.safety`); `[]` requires none.
       */
      requiredChecks?: string | string[];
      /**
       * (Optional) Who may download files of versions that are not approved
       * or deprecated: `owners` (the model's owner is the caller or one of
       * their groups) and `reviewers` (holders of `model-hub.version.review`
       * on the model). Defaults to both.
       */
      allowUnapprovedDownloadsFor?: Array<'owners' | 'reviewers'>;
      /**
       * (Optional) Policies for models of some types or lifecycles; every
       * matching entry applies in order, later ones win. Defaults to none.
       */
      overrides?: Array<{
        /** (Optional) Model types this entry applies to. */
        type?: string | string[];
        /** (Optional) Model lifecycles this entry applies to. */
        lifecycle?: string | string[];
        /** (Optional) See `modelHub.approvals.requiredApprovals`. */
        requiredApprovals?: number;
        /** (Optional) See `modelHub.approvals.reviewerGroups`. */
        reviewerGroups?: string | string[];
        /** (Optional) See `modelHub.approvals.separationOfDuties`. */
        separationOfDuties?: boolean;
        /** (Optional) See `modelHub.approvals.requiredChecks`. */
        requiredChecks?: string | string[];
        /** (Optional) See `modelHub.approvals.allowUnapprovedDownloadsFor`. */
        allowUnapprovedDownloadsFor?: Array<'owners' | 'reviewers'>;
      }>;
      /**
       * (Optional) Outgoing webhooks, signed with HMAC-SHA256 in
       * `X-Model-Hub-Signature: sha256=<hex>`. Defaults to none.
       */
      webhooks?: Array<{
        /** (Required) The http(s) URL that receives a JSON POST. */
        url: string;
        /**
         * (Optional) The HMAC-SHA256 key of the signature. Defaults to none
         * (unsigned).
         * @visibility secret
         */
        secret?: string;
        /**
         * (Optional) Events to send: version.submitted,
         * version.approval_recorded, version.approved,
         * version.changes_requested, version.rejected, version.deprecated,
         * version.archived, version.revoked, model.active_version_changed.
         * Defaults to all.
         */
        events?: string[];
        /** (Optional) Attempts per delivery. Defaults to 5. */
        maxAttempts?: number;
        /**
         * (Optional) Wait before the first retry, doubled per attempt.
         * Defaults to 1 second.
         */
        initialBackoff?: {
          days?: number;
          hours?: number;
          minutes?: number;
          seconds?: number;
          milliseconds?: number;
        };
        /** (Optional) Timeout of one attempt. Defaults to 10 seconds. */
        timeout?: {
          days?: number;
          hours?: number;
          minutes?: number;
          seconds?: number;
          milliseconds?: number;
        };
      }>;
    };
    /**
     * (Optional) The HF-compatible mirror under `/api/model-hub/hf`
     * (`HF_ENDPOINT=<backend>/api/model-hub/hf`), which serves approved
     * versions to Hugging Face clients.
     */
    mirror?: {
      /**
       * (Optional) Serve approved versions to callers without credentials
       * (transformers.js in a browser never sends a token to a non-HF host).
       * Defaults to false: callers need a personal `hf_` token, a Backstage
       * token or a static external-access token, and the download permission.
       */
      allowAnonymous?: boolean;
      /** (Optional) Entries per page of the tree listing. Defaults to 1000. */
      treePageSize?: number;
      /** (Optional) Personal access tokens. */
      tokens?: {
        /**
         * (Optional) Longest lifetime of a token, in days; also the lifetime
         * of a token created without one. Defaults to 365.
         */
        maxLifetimeDays?: number;
        /**
         * (Optional) How long, in seconds, the signed-in owner of a token
         * and the permission decisions taken for it are reused: a change of
         * the policy or of the owner's groups applies to their tokens
         * within this time. 0 to 60; defaults to 60.
         */
        decisionCacheSeconds?: number;
      };
      /**
       * (Optional) Pull-through: a request of an authenticated caller for a
       * Hub repo that is not mirrored registers it with the Hugging Face
       * sync (answering 503 with Retry-After); it is served once a version
       * is approved. Off by default.
       */
      pullThrough?: {
        /** (Optional) Defaults to false. */
        enabled?: boolean;
        /** (Optional) The owner of pulled models (an entity ref); required when enabled. */
        owner?: string;
        /** (Optional) The revision to sync. Defaults to `main`. */
        revision?: string;
      };
    };
    /** (Optional) Sync of models from the Hugging Face Hub (or a mirror). */
    huggingface?: {
      /**
       * (Optional) Base URL of the Hub, or of a compatible mirror, without a
       * trailing slash. Defaults to `https://huggingface.co`.
       */
      endpoint?: string;
      /**
       * (Optional) A Hugging Face access token, for private and gated repos
       * and higher rate limits. Defaults to none (anonymous).
       * @visibility secret
       */
      token?: string;
      /**
       * (Optional) How often the scheduled sync runs (once per interval
       * across all backend instances): it syncs registered repos that were
       * never synced and records upstream drift of the others. Defaults to
       * every hour, 1 minute after start, with a 30 minute timeout.
       */
      schedule?: import('@backstage/backend-plugin-api').SchedulerServiceTaskScheduleDefinitionConfig;
      /**
       * (Optional) Globs of the files a download fetches (`*` within a
       * folder, `**` across folders; a pattern without `/` matches file
       * names anywhere). Defaults to every file.
       */
      include?: string[];
      /** (Optional) Globs of files never downloaded. Defaults to none. */
      exclude?: string[];
      /**
       * (Optional) Organizations (the `org` of `org/name`) whose repos may be
       * registered. Defaults to every organization.
       */
      allowedOrganizations?: string[];
      /**
       * (Optional) Download jobs one backend instance runs at the same time.
       * Defaults to 2.
       */
      downloadConcurrency?: number;
      /**
       * (Optional) Parallel ranged requests for large LFS files: each file
       * is fetched in pieces over several connections (the Hub throttles
       * each one), written at their offsets, verified against the LFS
       * SHA-256 before it becomes a blob and resumed per piece.
       */
      /**
       * (Optional) The proxy for every request to the Hub (API calls and
       * file downloads; `CONNECT` tunnels for https). Unset keys fall back
       * to `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (or their lower-case
       * forms).
       */
      proxy?: {
        /** (Optional) Proxy URL for https requests. */
        https?: string;
        /** (Optional) Proxy URL for http requests. */
        http?: string;
        /**
         * (Optional) Hosts reached directly: `*`, host names, `.domain`
         * suffixes, IP addresses, each with an optional `:port`.
         */
        noProxy?: string[];
      };
      /**
       * (Optional) PEM files of CA certificates trusted for the Hub in
       * addition to Node's root store (a TLS-inspecting proxy, a private
       * mirror). Defaults to `NODE_EXTRA_CA_CERTS`.
       */
      extraCaCerts?: string[];
      parallelDownload?: {
        /** (Optional) Connections per file; 1 turns it off. Defaults to 8. */
        connections?: number;
        /** (Optional) Smallest file fetched in pieces, MiB. Defaults to 64. */
        minSizeMiB?: number;
        /** (Optional) Bytes per ranged request, MiB. Defaults to 32. */
        pieceSizeMiB?: number;
      };
      /**
       * (Optional) When the artifacts of a synced version are downloaded:
       * right after each sync (`registration`), once the version is approved
       * (`approval`), or only when requested (`on-demand`). Defaults to
       * `registration`.
       */
      fetch?: 'registration' | 'approval' | 'on-demand';
      /**
       * (Optional) Folder of downloads in progress (resumed after a restart),
       * relative to the working directory. Defaults to `hf-downloads` next to
       * the local store folder.
       */
      downloadDir?: string;
      /** (Optional) Namespace of the models created from the Hub. Defaults to `default`. */
      namespace?: string;
      /**
       * (Optional) What the scheduled sync does when a tracked revision moves
       * to a new upstream commit. It always creates a draft version pinned to
       * that commit (metadata and file list; its files are inspected as they
       * arrive). `review`: notifies the model's owner and the reviewers with
       * the diff against the active approved version and submits the version
       * for review once its files are in and its required checks pass;
       * `notify`: the notification only; `ignore`: the draft only. Defaults
       * to `review`.
       */
      onDrift?: 'review' | 'notify' | 'ignore';
    };
    /**
     * (Optional) The format inspection of stored files, which runs in
     * worker threads with time and memory limits.
     */
    inspection?: {
      /** (Optional) Worker threads, 1 to 64. Defaults to 2. */
      workers?: number;
      /** (Optional) CPU time one inspection may use. Defaults to 20 seconds. */
      cpuTimeLimit?: {
        minutes?: number;
        seconds?: number;
        milliseconds?: number;
      };
      /** (Optional) Wall-clock time one inspection may take. Defaults to 120 seconds. */
      timeLimit?: {
        hours?: number;
        minutes?: number;
        seconds?: number;
        milliseconds?: number;
      };
      /** (Optional) Heap of a worker in MiB, at least 64. */
      workerMemoryMiB?: number;
    };
    /**
     * (Optional) Model sources: the upstreams models come from (issue 22).
     * The `huggingface` block above stays the source named `huggingface`
     * (first, the default) when there is no list, or when it sets an
     * `endpoint` or a `token`; its other settings (fetch, downloadDir,
     * parallelDownload, ...) apply to every Hub source.
     */
    sources?: Array<{
      /** Lower-case letters, digits and dashes; unique. */
      name: string;
      /** (Optional) `huggingface` (a Hub or compatible mirror) or `local` (a folder). Defaults to `huggingface`. */
      kind?: 'huggingface' | 'local';
      /** (Optional) huggingface: the base URL. Defaults to `https://huggingface.co`. */
      endpoint?: string;
      /** (Optional) local: the folder the scan walks. */
      root?: string;
      /**
       * (Optional) The token, written in the config (use `${VAR}`).
       * @visibility secret
       */
      token?: string;
      /** (Optional) An environment variable holding the token (HF_* or MODEL_HUB_*). */
      tokenEnv?: string;
      /** (Optional) `env:NAME` or `config:modelHub.sourceSecrets.KEY`. */
      tokenRef?: string;
      /** (Optional) Globs of files to download; empty: all. */
      include?: string[];
      /** (Optional) Globs of files never downloaded. */
      exclude?: string[];
      /** (Optional) Organizations repos may come from; empty: any. */
      allowedOrganizations?: string[];
      /** (Optional) Namespace of its models. Defaults to `default` for the first source, else its name. */
      namespace?: string;
      /** (Optional) Schedule of its sync. Defaults to hourly. */
      schedule?: {
        frequency: { cron: string } | string | Record<string, number>;
        timeout: string | Record<string, number>;
        initialDelay?: string | Record<string, number>;
        scope?: 'global' | 'local';
      };
    }>;
    /**
     * (Optional) Tokens that sources added at run time refer to as
     * `config:modelHub.sourceSecrets.KEY` (the database holds only the
     * reference).
     * @visibility secret
     */
    sourceSecrets?: { [key: string]: string };
    /** (Optional) The status checks of model sources. */
    sourceStatus?: {
      /** (Optional) How often every source is checked. Defaults to 5 minutes. */
      frequency?: string | Record<string, number>;
      /**
       * (Optional) Entity refs notified once when a source starts failing.
       * Defaults to `group:default/ml-admins`.
       */
      notify?: string[];
    };
    /** (Optional) Registration of models found in a local folder. */
    scan?: {
      /**
       * (Optional) The folder `POST /api/model-hub/scan` walks (`org/name`
       * sub-folders); paths given to the scan must stay under it. Scanning
       * is off when unset.
       */
      root?: string;
    };
    /**
     * (Optional) Air-gapped transfers: signed bundles (OCI image layout in
     * a tar) of approved versions with their approval evidence.
     */
    transfer?: {
      /**
       * (Optional) The name of this portal, written into the bundles it
       * signs and shown on the versions other portals import. Defaults to
       * `app.title`.
       */
      portalName?: string;
      /**
       * (Optional) This portal's Ed25519 private key (PEM, PKCS#8) that
       * signs exports; its public key is served at
       * `GET /api/model-hub/transfer/public-key`. Exports answer 503
       * without it.
       * @visibility secret
       */
      signingKey?: string;
      /**
       * (Optional) The portals whose bundles this portal imports: a name
       * and an Ed25519 public key (PEM) each. A bundle signed by another
       * key is refused.
       */
      trustedKeys?: Array<{
        /** (Required) The name of the portal. */
        name: string;
        /** (Required) Its Ed25519 public key, PEM (SPKI). */
        publicKey: string;
      }>;
      /**
       * (Optional) The state imported versions land in: `trust` (approved,
       * as the signed evidence says) or `review` (in review here, with the
       * evidence attached). Defaults to `review`.
       */
      importedApprovals?: 'trust' | 'review';
      /** (Optional) The largest bundle an import reads, in MiB. Defaults to 4 TiB. */
      maxBundleSizeMiB?: number;
      /** (Optional) The largest file in a bundle, in MiB. Defaults to `upload.maxFileSizeMiB`. */
      maxBlobSizeMiB?: number;
      /** (Optional) The most tar entries of a bundle. Defaults to 100000. */
      maxEntries?: number;
      /** (Optional) The largest JSON document of a bundle, in MiB. Defaults to 16. */
      maxJsonSizeMiB?: number;
      /**
       * (Optional) Where imports spool blobs until the bundle is verified.
       * Defaults to `transfer-staging` next to the local store (one
       * filesystem: verified blobs are renamed into it), else the OS
       * temporary folder.
       */
      stagingDirectory?: string;
    };
  };
}
