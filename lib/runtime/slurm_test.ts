import { ConfigError } from "../config/config_error.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/asserts.ts";
import { parseCpusPerNode, readAllocation, srunArgs, stepLayout } from "./slurm.ts";

const scontrol = (hosts: string[]) => (command: string, args: string[]) => {
  if (command === "scontrol") {
    assertEquals(args.slice(0, 2), ["show", "hostnames"]);
    return Promise.resolve(hosts.join("\n") + "\n");
  }
  return Promise.resolve("slurm 22.05.8\n");
};

Deno.test("SLURM_JOB_CPUS_PER_NODE expands counts and repeats; garbage names the variable", () => {
  assertEquals(parseCpusPerNode("72(x2),36"), [72, 72, 36]);
  assertEquals(parseCpusPerNode("8"), [8]);
  const error = assertThrows(() => parseCpusPerNode("8(x"), ConfigError);
  assert(error.message.includes("SLURM_JOB_CPUS_PER_NODE"), error.message);
});

Deno.test("an allocation is read from the SLURM_* variables and scontrol's host list", async () => {
  const alloc = await readAllocation(
    {
      SLURM_JOB_ID: "42",
      SLURM_JOB_NODELIST: "frontier[00001-00002]",
      SLURM_JOB_CPUS_PER_NODE: "56(x2)",
      SLURM_NTASKS: "16",
      SLURM_GPUS_ON_NODE: "8",
    },
    scontrol(["frontier00001", "frontier00002"]),
  );
  assertEquals(alloc, {
    jobId: "42",
    nodes: ["frontier00001", "frontier00002"],
    cpusPerNode: [56, 56],
    tasks: 16,
    gpusPerNode: 8,
  });
});

Deno.test("outside an allocation the error names SLURM_JOB_ID", async () => {
  const error = await assertRejects(() => readAllocation({}, scontrol([])), ConfigError);
  assert(error.message.includes("SLURM_JOB_ID") && error.message.includes("salloc"), error.message);
});

Deno.test("ranks are laid out over the fewest nodes, evenly, with CPUs shared among them", () => {
  const alloc = {
    jobId: "1",
    nodes: ["a", "b", "c", "d"],
    cpusPerNode: [56, 56, 56, 56],
    tasks: 32,
  };
  assertEquals(stepLayout(1, alloc), { nodes: 1, tasksPerNode: 1, cpusPerTask: 56 });
  assertEquals(stepLayout(8, alloc), { nodes: 1, tasksPerNode: 8, cpusPerTask: 7 });
  assertEquals(stepLayout(16, alloc), { nodes: 2, tasksPerNode: 8, cpusPerTask: 7 });
  assertEquals(stepLayout(32, alloc), { nodes: 4, tasksPerNode: 8, cpusPerTask: 7 });
  assert(String(stepLayout(64, alloc)).includes("32 tasks"));
});

Deno.test("a step's srun flags are all explicit, GPU flags only where asked", () => {
  const layout = { nodes: 2, tasksPerNode: 8, cpusPerTask: 7 };
  const plain = srunArgs(16, layout, "pb-r", {});
  assertEquals(plain, [
    "-N2",
    "-n16",
    "--ntasks-per-node=8",
    "-c7",
    "-K1",
    "-l",
    "--job-name=pb-r",
  ]);
  const gpu = srunArgs(16, layout, "pb-r", { gpusPerNode: 8, gpuBind: "closest" });
  assert(gpu.includes("--gpus-per-node=8") && gpu.includes("--gpu-bind=closest"), gpu.join(" "));
});
