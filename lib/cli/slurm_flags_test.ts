import { ConfigError } from "../config/config_error.ts";
import { expandSweep } from "../config/sweep.ts";
import { defaultSweep } from "../config/sweeps.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";
import { planSlurm } from "./slurm_flags.ts";

const env = {
  SLURM_JOB_ID: "7",
  SLURM_JOB_NODELIST: "n[1-2]",
  SLURM_JOB_CPUS_PER_NODE: "4(x2)",
  SLURM_NTASKS: "4",
};
const runner = (command: string) =>
  Promise.resolve(command === "scontrol" ? "n1\nn2\n" : "slurm 22.05\n");
const expansion = expandSweep(defaultSweep, { quick: true });

Deno.test("points needing more ranks than the allocation's tasks are excluded with the reason", async () => {
  const plan = await planSlurm({}, expansion, false, env, runner);
  assertEquals(plan.expansion.points.map((p) => p.config.ranks).sort(), [1, 1, 2, 2, 4, 4]);
  const excluded = plan.expansion.excluded.filter((x) => x.reason.includes("4 tasks"));
  assertEquals(excluded.length, 2);
});

Deno.test("an explicitly requested point that does not fit is an error naming --ranks", async () => {
  const error = await assertRejects(() => planSlurm({}, expansion, true, env, runner), ConfigError);
  assert(
    error.message.includes('--ranks ("8")') && error.message.includes("SLURM_NTASKS=4"),
    error.message,
  );
});

Deno.test("a GPU map naming a device the nodes lack, or an unknown binding, is refused", async () => {
  const map = await assertRejects(
    () =>
      planSlurm(
        { "gpus-per-node": 4, "gpu-bind": "map_gpu:0,1,2,7" },
        expansion,
        false,
        env,
        runner,
      ),
    ConfigError,
  );
  assert(map.message.includes("GPU 7") && map.message.includes("--gpu-bind"), map.message);
  const bad = await assertRejects(
    () => planSlurm({ "gpu-bind": "nearest" }, expansion, false, env, runner),
    ConfigError,
  );
  assert(bad.message.includes("nearest"), bad.message);
  const ok = await planSlurm(
    { "gpus-per-node": 8, "gpu-bind": "closest" },
    expansion,
    false,
    env,
    runner,
  );
  assertEquals(ok.gpu, { gpusPerNode: 8, gpuBind: "closest" });
});

Deno.test("--communicator in-process and --launcher slurm do not go together", async () => {
  await assertRejects(
    () => planSlurm({ communicator: "in-process" }, expansion, false, env, runner),
    ConfigError,
  );
});
