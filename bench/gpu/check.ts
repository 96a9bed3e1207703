/**
 * `deno task gpu:check`: everything GPU-side in one command, for a GPU host with no network
 * (bring it with bench/gpu/pack.sh): the adapter Deno gets and the driver, GEMM GFLOP/s of the
 * suite's WGSL kernels against tfjs-webgpu's own at 1024-8192 (bench:gemm), TP at p = 2 with
 * tfjs's mapped uploads against the suite's queue.writeBuffer uploads, a TP and a phantom
 * training point on webgpu with energy from the power backend (NVML's counter on NVIDIA), and the
 * PyTorch reference where torch imports. Ends with a summary. `--software` runs the same steps at
 * small sizes on whatever adapter is here (the dry run on a machine without a GPU).
 *
 * @module
 */

import { join } from "node:path";
import { flag, parseFlags, printHelp, renderHelp } from "../../lib/cli/flags.ts";
import { runMain } from "../../lib/cli/run_main.ts";
import { loadResults } from "../../lib/results/results.ts";

const FLAGS = {
  software: flag.bool({ help: "small sizes, any adapter (a dry run without a GPU)" }),
  out: flag.path({ arg: "DIR", default: join("reports", "gpu-check"), help: "where results go" }),
};

const HELP = renderHelp(
  "deno task gpu:check [--software] [--out DIR]",
  "Checks everything GPU-side and prints a summary.",
  FLAGS,
);

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
    return {
      ok: o.success,
      out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
    };
  } catch (error) {
    return { ok: false, out: `${cmd}: ${(error as Error).message}` };
  }
}

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(FLAGS, args);
  if (parsed === "help") return printHelp(HELP);
  const { values } = parsed;
  await Deno.mkdir(values.out, { recursive: true });
  const deno = Deno.execPath();
  const root = new URL("../..", import.meta.url).pathname;
  const summary: string[] = [];
  const step = (title: string) => console.log(`\n== ${title}`);
  /** A bench point on webgpu, all ranks in this process, no cooldown. */
  const bench = (args: string[], env: Record<string, string> = {}) =>
    run(deno, [
      "run",
      "-A",
      join(root, "bench/main.ts"),
      "--backend",
      "webgpu",
      "--communicator",
      "in-process",
      "--cooldown",
      "0",
      ...args,
    ], env);

  step("GPU and driver");
  const smi = await run("nvidia-smi", [
    "--query-gpu=index,name,driver_version,pci.bus_id,memory.total",
    "--format=csv,noheader",
  ]);
  console.log(
    smi.ok ? smi.out.trim() : `nvidia-smi: not available (${smi.out.trim().split("\n")[0]})`,
  );
  summary.push(`GPUs: ${smi.ok ? smi.out.trim().split("\n").length : 0} (nvidia-smi)`);
  const vk = await run("vulkaninfo", ["--summary"]);
  console.log(
    vk.ok
      ? vk.out.split("\n").filter((l) => /deviceName|driverName|apiVersion/.test(l)).join("\n")
      : "vulkaninfo: not available",
  );

  step("GEMM: the suite's WGSL kernels against tfjs-webgpu's own");
  const sizes = values.software ? "128,256" : "1024,2048,4096,8192";
  const gemm = await run(deno, [
    "run",
    "-A",
    join(root, "bench/gemm.ts"),
    "--sizes",
    sizes,
    "--json",
    join(values.out, "gemm.json"),
  ]);
  console.log(gemm.out.trim());
  if (gemm.ok) {
    const rows = JSON.parse(await Deno.readTextFile(join(values.out, "gemm.json"))).rows as {
      size: number;
      layout: string;
      oursGflops: number;
      tfjsGflops: number;
    }[];
    const top = rows.filter((r) => r.size === Math.max(...rows.map((x) => x.size)));
    summary.push(
      `GEMM at ${top[0].size}: ${
        top.map((r) =>
          `${r.layout} ${r.oursGflops.toFixed(0)} vs ${r.tfjsGflops.toFixed(0)} GFLOP/s`
        ).join(", ")
      }`,
    );
  } else summary.push("GEMM: FAILED (see above)");

  step("Uploads: TP at p = 2 in one process, tfjs's mapped uploads against queue.writeBuffer");
  // On the H200 tfjs's path (getMappedRange) ran at ~25 MB/s and made this point 8.1 s a step.
  const uploadPoint = values.software
    ? ["--width", "256", "--batch", "32", "--layers", "2"]
    : ["--width", "4096", "--batch", "1024", "--layers", "4"];
  const uploadMs: Record<string, number> = {};
  for (const path of ["tfjs", "queue"]) {
    const out = await bench([
      "--mode",
      "tp",
      "--ranks",
      "2",
      ...uploadPoint,
      "--steps",
      "6",
      "--warmup",
      "2",
      "--power",
      "none",
      "--out",
      join(values.out, `upload-${path}`),
    ], path === "tfjs" ? { PHANTOM_WEBGPU_UPLOAD: "tfjs" } : {});
    const row = out.out.split("\n").find((l) => /^tp /.test(l));
    console.log(`${path.padEnd(6)} ${row ?? out.out.trim().split("\n").at(-1)}`);
    const file = out.out.match(/^results: (.+)$/m)?.[1];
    const ms = out.ok && file
      ? (await loadResults(file)).runs[0]?.metrics?.stepTimeMs?.median
      : undefined;
    if (ms !== undefined) uploadMs[path] = ms;
  }
  summary.push(
    uploadMs.tfjs && uploadMs.queue
      ? `uploads, TP p=2 step: ${uploadMs.tfjs.toFixed(1)} ms (tfjs mapped) vs ${
        uploadMs.queue.toFixed(1)
      } ms (writeBuffer), ${(uploadMs.tfjs / uploadMs.queue).toFixed(2)}x`
      : "uploads: FAILED (see above)",
  );

  step("Training: a TP and a phantom point on webgpu, energy from the power backend");
  const point = values.software
    ? ["--width", "256", "--batch", "32", "--steps", "6", "--warmup", "2"]
    : [
      "--width",
      "8192",
      "--batch",
      "1024",
      "--layers",
      "4",
      "--phantom-width",
      "64",
      "--steps",
      "20",
      "--warmup",
      "5",
    ];
  const train = await bench([
    "--mode",
    "tp,phantom",
    "--ranks",
    values.software ? "2" : "8",
    ...point,
    "--out",
    values.out,
  ]);
  console.log(
    train.out.trim().split("\n").filter((l) => /^(tp|phantom|mode|backend|results)/.test(l)).join(
      "\n",
    ),
  );
  const rows = train.out.split("\n").filter((l) => /^(tp|phantom) /.test(l));
  summary.push(
    train.ok
      ? `training: ${rows.map((l) => l.replace(/\s+/g, " ").trim()).join(" | ")}`
      : "training: FAILED (see above)",
  );

  step("PyTorch reference");
  const torch = await run("python3", ["-c", "import torch; print(torch.cuda.is_available())"]);
  if (torch.ok && torch.out.trim() === "True" && !values.software) {
    const ref = await run("python3", [join(root, "bench/gpu/torch_reference.py"), sizes]);
    console.log(ref.out.trim());
    await Deno.writeTextFile(join(values.out, "torch.json"), ref.out);
    summary.push(ref.ok ? `PyTorch: ${ref.out.trim().slice(0, 200)}` : "PyTorch: FAILED");
  } else {
    console.log(
      `torch with CUDA not importable here${values.software ? " (or --software)" : ""}: skipped`,
    );
    summary.push("PyTorch: skipped (torch with CUDA not importable)");
  }

  step("Summary");
  for (const s of summary) console.log(`- ${s}`);
  console.log(`results in ${values.out}`);
  return gemm.ok && train.ok ? 0 : 1;
}

if (import.meta.main) await runMain(main);
