import { ConfigError } from "./config_error.ts";
import { validateModelConfig, validateTrainConfig } from "./config.ts";
import { assert, assertEquals, assertThrows } from "../testing/asserts.ts";

const VALID = {
  mode: "phantom",
  ranks: 4,
  width: 64,
  phantomWidth: 2,
  layers: 2,
  batch: 8,
  inputWidth: 4,
  outputWidth: 2,
  seed: 1,
};

Deno.test("a valid configuration passes and gets defaults", () => {
  const c = validateTrainConfig(VALID);
  assertEquals(c.phantomWidth, 2);
  assertEquals(c.backend, "wasm");
  assertEquals(c.optimizer.name, "adam");
  assertEquals(c.task.evalEvery, 10);
});

const BAD: [string, Record<string, unknown>, string][] = [
  ["ranks not dividing width", { ranks: 3 }, "Invalid config: ranks (3) must divide width (64)"],
  [
    "k equal to n/p",
    { phantomWidth: 16 },
    "Invalid config: phantomWidth (16) must be smaller than width/ranks (16)",
  ],
  ["k of zero", { phantomWidth: 0 }, "Invalid config: phantomWidth (0) must be a positive integer"],
  [
    "k missing for phantom",
    { phantomWidth: undefined },
    "phantomWidth (missing) must be a positive integer",
  ],
  ["k given for tp", { mode: "tp" }, "phantomWidth (2) applies only to mode phantom"],
  ["fractional width", { width: 64.5 }, "width (64.5) must be a positive integer"],
  ["negative batch", { batch: -8 }, "batch (-8) must be a positive integer"],
  ["string layers", { layers: "2" }, 'layers ("2") must be a positive integer'],
  ["unknown mode", { mode: "pipeline" }, 'mode ("pipeline") must be one of serial, tp, phantom'],
  [
    "serial on 4 ranks",
    { mode: "serial", phantomWidth: undefined },
    "ranks (4) must be 1 for mode serial",
  ],
  ["bad seed", { seed: -1 }, "seed (-1) must be an integer from 0 to 4294967295"],
  [
    "unknown backend",
    { backend: "cuda" },
    'backend ("cuda") must be one of blas, wasm, cpu, webgpu, tensorflow',
  ],
  [
    "unknown optimizer",
    { optimizer: { name: "lamb" } },
    'optimizer.name ("lamb") must be one of sgd, adam',
  ],
  [
    "infinite learning rate",
    { optimizer: { learningRate: Infinity } },
    "optimizer.learningRate (Infinity) must be a finite number",
  ],
  [
    "NaN learning rate",
    { optimizer: { learningRate: NaN } },
    "optimizer.learningRate (NaN) must be a finite number",
  ],
  [
    "zero learning rate",
    { optimizer: { learningRate: 0 } },
    "optimizer.learningRate (0) must be greater than 0",
  ],
  ["beta1 of 1", { optimizer: { beta1: 1 } }, "optimizer.beta1 (1) must be smaller than 1"],
  ["optimizer not an object", { optimizer: "adam" }, 'optimizer ("adam") must be an object'],
  ["zero steps", { steps: 0 }, "steps (0) must be a positive integer"],
  [
    "zero eval cadence",
    { task: { evalEvery: 0 } },
    "task.evalEvery (0) must be a positive integer",
  ],
];

for (const [label, change, message] of BAD) {
  Deno.test(`config error names field and value: ${label}`, () => {
    const error = assertThrows(
      () => validateTrainConfig({ ...VALID, ...change }),
      ConfigError,
      message,
    );
    assertEquals(error.stack?.includes(message), true);
  });
}

Deno.test("phantom on one rank needs k below n", () => {
  assertThrows(
    () => validateModelConfig({ ...VALID, ranks: 1, phantomWidth: 64 }),
    ConfigError,
    "phantomWidth (64) must be smaller than width (64)",
  );
  assertEquals(validateModelConfig({ ...VALID, ranks: 1, phantomWidth: 63 }).ranks, 1);
});

Deno.test("a huge wrong-typed value is cut in the message, not echoed whole", () => {
  const error = new ConfigError(
    "width",
    "x".repeat(50 * 1024 * 1024),
    "must be a positive integer",
  );
  assert(error.message.length < 400, `${error.message.length} characters`);
  assert(error.message.includes("(52428802 characters)"), error.message.slice(0, 300));
});
