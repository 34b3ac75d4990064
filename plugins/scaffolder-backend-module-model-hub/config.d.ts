export interface Config {
  /** Configuration of Model Hub. */
  modelHub?: {
    /**
     * (Optional) GPU provisioning by the `model-hub:gpu:provision` scaffolder
     * action. Without profiles the action can still estimate memory, but it
     * fails with the estimate because no GPU fits.
     */
    gpu?: {
      /**
       * (Optional) The GPU node pools a workload may be scheduled on. With
       * `gpuProfile: auto` the action picks the profile and GPU count with
       * the least GPU memory in total that fits the estimate. Defaults to none.
       */
      profiles?: Array<{
        /** (Required) The profile name, e.g. `a100-80gb`. */
        name: string;
        /** (Required) Memory of one GPU in GiB, e.g. 80. */
        memoryGiB: number;
        /**
         * (Optional) The GPU product label value of GPU feature discovery
         * (`nvidia.com/gpu.product`), e.g. `NVIDIA-A100-SXM4-80GB`. It is
         * added to the node selector. Defaults to none.
         */
        product?: string;
        /** (Optional) Extra node selector labels. Defaults to none. */
        nodeSelector?: { [label: string]: string };
        /** (Optional) Tolerations of the pods (Kubernetes shape). Defaults to none. */
        tolerations?: Array<{
          key?: string;
          operator?: 'Exists' | 'Equal';
          value?: string;
          effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
        }>;
        /** (Optional) GPUs per node; the most one pod may ask for. Defaults to 1. */
        gpusPerNode?: number;
      }>;
      /**
       * (Optional) Container images per runtime, pinned by digest
       * (`repo@sha256:...`) or by an exact tag. Defaults to the upstream
       * images listed in the module README (pinned tags).
       */
      images?: {
        /** (Optional) vLLM OpenAI-compatible server image. */
        vllm?: string;
        /** (Optional) Text Generation Inference image. */
        tgi?: string;
        /** (Optional) KServe Hugging Face serving runtime image. */
        kserve?: string;
        /** (Optional) Image of batch jobs (`runtime: job`). */
        job?: string;
      };
      /**
       * (Optional) The fraction of GPU memory a runtime may use (vLLM's
       * `--gpu-memory-utilization`). Defaults to 0.9.
       */
      memoryUtilization?: number;
      /**
       * (Optional) What `apply: true` may do. Applying also needs
       * `model-hub.deploy` on the model; template input never chooses the
       * command, the Secret or a namespace outside these lists.
       */
      deploy?: {
        /**
         * (Optional) The Kubernetes Secret with the mirror token (`hf_...`
         * under the key `token`) that workloads read. Defaults to
         * `model-hub-mirror-token`.
         */
        tokenSecretName?: string;
        /**
         * (Optional) Container commands per runtime; only `job` takes one
         * (the serving runtimes run their image's server). Defaults to a
         * `huggingface-cli download` of the version (see the README).
         */
        commands?: {
          /** (Optional) The command of `runtime: job`. */
          job?: string[];
        };
        /**
         * (Optional) Namespaces a workload may be applied to: a namespace
         * must be listed for the cluster and for the GPU profile where each
         * has a list, and at least one must have one. Defaults to none, so
         * nothing is applied until namespaces are listed.
         */
        namespaces?: {
          /** (Optional) Per cluster name of `kubernetes.clusterLocatorMethods`. */
          clusters?: { [cluster: string]: string[] };
          /** (Optional) Per GPU profile name of `modelHub.gpu.profiles`. */
          profiles?: { [profile: string]: string[] };
        };
      };
    };
    /** (Optional) The Hugging Face compatible mirror of the Model Hub backend. */
    mirror?: {
      /**
       * (Optional) The URL workloads use as `HF_ENDPOINT`. Defaults to
       * `${backend.baseUrl}/api/model-hub/hf`.
       */
      baseUrl?: string;
    };
  };
}
