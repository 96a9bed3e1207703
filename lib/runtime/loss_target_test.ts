import { lossToTarget } from "./loss_target.ts";
import { assertEquals, assertThrows } from "../testing/asserts.ts";

const evals = [
  { step: 0, trainMs: 0, loss: 2 },
  { step: 5, trainMs: 50, loss: 1.2 },
  { step: 10, trainMs: 100, loss: 0.9 },
];

Deno.test("loss to target: first evaluation at or under the target, with time and energy", () => {
  const m = lossToTarget(evals, Array(10).fill(0.5), { kind: "absolute", value: 1 });
  assertEquals([m.stepsToTarget, m.timeToTargetMs, m.energyToTargetJ], [10, 100, 5]);
  assertEquals(m.curve[1], [5, 50, 2.5, 1.2]);
});

Deno.test("loss to target: a fraction of the initial loss; never reached gives nulls", () => {
  const m = lossToTarget(evals, null, { kind: "fraction", value: 0.1 });
  assertEquals(m.target.absolute, 0.2);
  assertEquals([m.stepsToTarget, m.timeToTargetMs, m.energyToTargetJ], [null, null, null]);
  assertEquals(m.curve[2][2], null);
  assertThrows(
    () => lossToTarget([], null, { kind: "fraction", value: 1 }),
    RangeError,
    "no evaluation",
  );
});
