/**
 * Assertions for the suite's tests, in the shape of Deno std's (which is unreachable here: no jsr
 * registry), built on `node:assert/strict`.
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/**
 * @param condition Must be truthy.
 * @param message Shown on failure.
 * @throws {nodeAssert.AssertionError} If not.
 */
export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

/**
 * Deep strict equality.
 *
 * @param actual The value.
 * @param expected The expected value.
 * @param message Shown on failure.
 */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Asserts that `fn` throws an instance of `errorClass` whose message includes `includes`.
 *
 * @param fn The code.
 * @param errorClass Expected class.
 * @param includes Expected substring of the message.
 * @returns The error.
 */
export function assertThrows(fn: () => unknown, errorClass: ErrorClass, includes = ""): Error {
  try {
    fn();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new nodeAssert.AssertionError({ message: `Expected ${errorClass.name} to be thrown` });
}

/**
 * Asserts that `fn` rejects with an instance of `errorClass` whose message includes `includes`.
 *
 * @param fn The code.
 * @param errorClass Expected class.
 * @param includes Expected substring of the message.
 * @returns The error.
 */
export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass: ErrorClass,
  includes = "",
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, errorClass, includes);
  }
  throw new nodeAssert.AssertionError({ message: `Expected ${errorClass.name} to be rejected` });
}

function checkError(error: unknown, errorClass: ErrorClass, includes: string): Error {
  if (!(error instanceof errorClass)) {
    throw new nodeAssert.AssertionError({
      message: `Expected ${errorClass.name}, got ${
        error instanceof Error ? error.name : typeof error
      }: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
  if (!error.message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `Expected message to include "${includes}", got "${error.message}"`,
    });
  }
  return error;
}

/**
 * Asserts two arrays are element-wise close: |a - e| <= atol + rtol * |e|.
 *
 * @param actual The values.
 * @param expected The expected values.
 * @param tolerance Absolute and relative tolerance.
 * @param label Names the quantity in the failure message.
 */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: { atol?: number; rtol?: number } = {},
  label = "values",
): void {
  const atol = tolerance.atol ?? 1e-6;
  const rtol = tolerance.rtol ?? 1e-5;
  assertEquals(actual.length, expected.length, `${label}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new nodeAssert.AssertionError({
      message: `${label}: element ${worst} is ${actual[worst]}, expected ${
        expected[worst]
      } (atol ${atol}, rtol ${rtol})`,
    });
  }
}
