import { ConfigError } from "../config/config_error.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";
import { chooseGpu, parseGpuMap } from "./gpu_select.ts";

Deno.test("a visible-device list of one entry is the rank's GPU (srun --gpus-per-task=1, closest)", () => {
  assertEquals(chooseGpu({ CUDA_VISIBLE_DEVICES: "3", SLURM_LOCALID: "5" }).device, "3");
  assertEquals(chooseGpu({ ROCR_VISIBLE_DEVICES: "6" }).device, "6");
});

Deno.test("with several visible devices a rank takes SLURM_LOCALID modulo their count", () => {
  const env = { ROCR_VISIBLE_DEVICES: "0,1,2,3,4,5,6,7" };
  const devices = [...Array(8).keys()].map((i) =>
    chooseGpu({ ...env, SLURM_LOCALID: String(i) }).device
  );
  assertEquals(devices, ["0", "1", "2", "3", "4", "5", "6", "7"]);
  assertEquals(chooseGpu({ ...env, SLURM_LOCALID: "9" }).device, "1");
  assert(chooseGpu({ ...env, SLURM_LOCALID: "9" }).source.includes("ROCR_VISIBLE_DEVICES"));
});

Deno.test("CUDA_VISIBLE_DEVICES wins over the ROCm lists; none visible means no GPU", () => {
  assertEquals(chooseGpu({ CUDA_VISIBLE_DEVICES: "1", HIP_VISIBLE_DEVICES: "0" }).device, "1");
  // An empty list hides the node's GPUs too.
  assertEquals(chooseGpu({ CUDA_VISIBLE_DEVICES: "" }, 4), {
    device: null,
    source: "CUDA_VISIBLE_DEVICES is empty",
  });
  assertEquals(chooseGpu({}).source, "no GPU is visible (nvidia-smi lists none)");
});

Deno.test("with no visible-device list, local ranks spread over the node's GPUs", () => {
  // The local launcher on a 4-GPU workstation: ranks 0..5 get 0,1,2,3,0,1 (before this, every
  // rank said "no GPU is visible" and all of them took the first GPU).
  const devices = [0, 1, 2, 3, 4, 5].map((r) =>
    chooseGpu({ PHANTOM_LOCAL_RANK: String(r) }, 4).device
  );
  assertEquals(devices, ["0", "1", "2", "3", "0", "1"]);
  assert(chooseGpu({ SLURM_LOCALID: "2" }, 4).source.includes("node's 4 GPUs"));
  // A list, where set, still wins over the node's count.
  assertEquals(chooseGpu({ CUDA_VISIBLE_DEVICES: "6,7", SLURM_LOCALID: "1" }, 8).device, "7");
});

Deno.test("an explicit map picks by local rank and refuses a device that is not visible", () => {
  assertEquals(chooseGpu({ PHANTOM_GPU_MAP: "map_gpu:4,5,2,3", SLURM_LOCALID: "2" }).device, "2");
  const error = assertThrows(
    () => chooseGpu({ PHANTOM_GPU_MAP: "map_gpu:9", CUDA_VISIBLE_DEVICES: "0,1" }),
    ConfigError,
  );
  assert(error.message.includes("--gpu-bind") && error.message.includes("9"), error.message);
  assertThrows(() => parseGpuMap("map_gpu:0,x"), ConfigError);
});
