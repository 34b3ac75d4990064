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
