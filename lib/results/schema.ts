/**
 * A small schema language for JSON files: one definition gives both the TypeScript type
 * ({@linkcode Infer}) and a validator that names the first field at fault ("runs[2].metrics.
 * stepTimeMs.median must be a finite number (got "x")"). The results format is written in it,
 * so adding a metric is one edit.
 *
 * @module
 */

/** Reports a validation failure at a path; never returns. */
export type Fail = (path: string, message: string) => never;

/** A schema of values of type T. */
export interface Schema<T> {
  /** Checks a value; returns it typed or calls `fail`. */
  check(value: unknown, path: string, fail: Fail): T;
  /** Whether an object field of this schema may be absent. */
  readonly optional?: boolean;
}

/** The type a schema describes. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

// deno-lint-ignore no-explicit-any
type AnySchema = Schema<any>;
type Shape = Record<string, AnySchema>;
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K] extends { optional: true } ? K : never;
}[keyof S];
type ObjectOf<S extends Shape> =
  & { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> }
  & { [K in OptionalKeys<S>]?: Infer<S[K]> };
type Flatten<T> = { [K in keyof T]: T[K] } & unknown;

const show = (v: unknown) => {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

function primitive<T>(ok: (v: unknown) => boolean, what: string): Schema<T> {
  return {
    check(v, path, fail) {
      if (!ok(v)) fail(path, `must be ${what} (got ${show(v)})`);
      return v as T;
    },
  };
}

/** Schema constructors. */
export const s = {
  /** Any string. */
  string: (): Schema<string> => primitive((v) => typeof v === "string", "a string"),
  /** A finite number. */
  number: (): Schema<number> =>
    primitive((v) => typeof v === "number" && Number.isFinite(v), "a finite number"),
  /** A finite number, 0 or more (times, energies, rates). */
  nonNegative: (): Schema<number> =>
    primitive(
      (v) => typeof v === "number" && Number.isFinite(v) && v >= 0,
      "a finite number, 0 or more",
    ),
  /** An integer. */
  integer: (): Schema<number> => primitive((v) => Number.isSafeInteger(v), "an integer"),
  /** true or false. */
  boolean: (): Schema<boolean> => primitive((v) => typeof v === "boolean", "true or false"),
  /** Anything (kept as is). */
  unknown: (): Schema<unknown> => ({ check: (v) => v }),
  /** One of fixed strings. */
  enum<const T extends readonly string[]>(values: T): Schema<T[number]> {
    return primitive(
      (v) => (values as readonly unknown[]).includes(v),
      values.length === 1 ? `"${values[0]}"` : `one of ${values.join(", ")}`,
    );
  },
  /** null or the inner schema. */
  nullable<T>(inner: Schema<T>): Schema<T | null> {
    return { check: (v, path, fail) => (v === null ? null : inner.check(v, path, fail)) };
  },
  /** An object field that may be absent (undefined). */
  optional<T>(inner: Schema<T>): Schema<T | undefined> & { optional: true } {
    return {
      optional: true,
      check: (v, path, fail) => (v === undefined ? undefined : inner.check(v, path, fail)),
    };
  },
  /** An array of the inner schema. */
  array<T>(inner: Schema<T>): Schema<T[]> {
    return {
      check(v, path, fail) {
        if (!Array.isArray(v)) fail(path, `must be an array (got ${show(v)})`);
        (v as unknown[]).forEach((x, i) => inner.check(x, `${path}[${i}]`, fail));
        return v as T[];
      },
    };
  },
  /** A fixed-length array with a schema per position. */
  tuple<const T extends readonly AnySchema[]>(
    ...items: T
  ): Schema<{ [K in keyof T]: Infer<T[K]> }> {
    return {
      check(v, path, fail) {
        if (!Array.isArray(v) || v.length !== items.length) {
          fail(path, `must be an array of ${items.length} (got ${show(v)})`);
        }
        items.forEach((item, i) => item.check((v as unknown[])[i], `${path}[${i}]`, fail));
        return v as { [K in keyof T]: Infer<T[K]> };
      },
    };
  },
  /** An object with the given fields; other fields are kept unchecked. */
  object<S extends Shape>(shape: S): Schema<Flatten<ObjectOf<S>>> & { shape: S } {
    return {
      shape,
      check(v, path, fail) {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          fail(path, `must be an object (got ${show(v)})`);
        }
        const o = v as Record<string, unknown>;
        for (const [k, field] of Object.entries(shape)) {
          const at = path ? `${path}.${k}` : k;
          if (o[k] === undefined && !field.optional) fail(at, "is missing");
          field.check(o[k], at, fail);
        }
        return o as Flatten<ObjectOf<S>>;
      },
    };
  },
  /** An object of any keys whose values all follow the inner schema. */
  record<T>(inner: Schema<T>): Schema<Record<string, T>> {
    return {
      check(v, path, fail) {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          fail(path, `must be an object (got ${show(v)})`);
        }
        for (const [k, x] of Object.entries(v as object)) inner.check(x, `${path}.${k}`, fail);
        return v as Record<string, T>;
      },
    };
  },
  /** The inner schema plus a rule over the whole value (e.g. one field required by another). */
  refine<T>(inner: Schema<T>, rule: (value: T, path: string, fail: Fail) => void): Schema<T> {
    return {
      optional: inner.optional,
      check(v, path, fail) {
        const value = inner.check(v, path, fail);
        rule(value, path, fail);
        return value;
      },
    };
  },
};

/**
 * Validates a value against a schema.
 *
 * @param schema The schema.
 * @param value The value.
 * @param onError Builds the error to throw from the path and message.
 * @returns The value, typed.
 * @throws Whatever `onError` returns, at the first field at fault.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { s, validate } from "./schema.ts";
 * const point = s.object({ x: s.number(), label: s.optional(s.string()) });
 * assert.throws(() => validate(point, { x: "1" }, (p, m) => new Error(`${p} ${m}`)), /x must be a finite number/);
 * assert(validate(point, { x: 1 }, (p, m) => new Error(`${p} ${m}`)).x === 1);
 * ```
 */
export function validate<T>(
  schema: Schema<T>,
  value: unknown,
  onError: (path: string, message: string) => Error,
): T {
  return schema.check(value, "", (path, message) => {
    throw onError(path, message);
  });
}
