// The layering the README states, checked on the real import graph: `deno info --json` of mod.ts,
// every entry point (bench/, reports/, workers/) and every production module of lib/, with static,
// dynamic and type-only imports alike. Any import that goes up the order (lib/testing/layering.ts),
// reaches lib/testing from production code, or closes a cycle fails the test, naming the files.
import { importCycles, layeringViolations, LAYERS, TESTING } from "../lib/testing/layering.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { ROOT } from "../lib/testing/run_deno.ts";

/** Production modules: every .ts under the layered folders, less tests and lib/testing. */
function productionModules(): string[] {
  const out: string[] = ["mod.ts"];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && path !== TESTING) walk(path);
      else if (e.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) out.push(path);
    }
  };
  for (const dir of ["lib", "bench", "reports", "workers"]) walk(dir);
  return out;
}

async function importEdges(modules: string[]): Promise<[string, string][]> {
  const dir = await Deno.makeTempDir({ prefix: "layering-" });
  const root = `${dir}/root.ts`;
  await Deno.writeTextFile(root, modules.map((m) => `import "file://${ROOT}${m}";\n`).join(""));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${ROOT}deno.json`, root],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      error?: string;
      dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
    }[];
  };
  // The suite's own modules; packages (node_modules, npm:) are outside the layering.
  const local = (s: string | undefined) => {
    const path = s?.startsWith(`file://${ROOT}`) ? s.slice(`file://${ROOT}`.length) : undefined;
    return path?.startsWith("node_modules/") ? undefined : path;
  };
  const edges: [string, string][] = [];
  for (const m of info.modules) {
    const from = local(m.specifier);
    if (!from) continue;
    assertEquals(m.error, undefined, `${from} did not resolve`);
    for (const d of m.dependencies ?? []) {
      for (const to of [local(d.code?.specifier), local(d.type?.specifier)]) {
        if (to && to !== from) edges.push([from, to]);
      }
    }
  }
  return edges;
}

const modules = productionModules();
const edges = await importEdges(modules);

Deno.test("layering: no import goes up the stated order or reaches lib/testing from production code", () => {
  console.log(
    `${modules.length} production modules, ${edges.length} import edges; order: ${
      LAYERS.map((l) => l.join(", ")).join(" < ")
    }`,
  );
  assert(edges.length > 300, `only ${edges.length} edges: the walk missed modules`);
  assertEquals(layeringViolations(edges), []);
});

Deno.test("layering: no import cycle among the suite's modules", () => {
  assertEquals(importCycles(edges), []);
});

Deno.test("layering: the checks fail on an edge up the order, into lib/testing, or around a cycle", () => {
  const bad: [string, string][] = [
    ["lib/results/results.ts", "lib/power/energy_monitor.ts"],
    ["lib/comm/x.ts", "lib/testing/asserts.ts"],
    ["bench/main.ts", "reports/compare.ts"],
    ["lib/nn/a.ts", "lib/nn/b.ts"],
    ["lib/nn/b.ts", "lib/nn/a.ts"],
  ];
  assertEquals(layeringViolations(bad).length, 3);
  assertEquals(importCycles(bad), [["lib/nn/a.ts", "lib/nn/b.ts"]]);
});

Deno.test("layering: the README states the same order", async () => {
  const readme = (await Deno.readTextFile(`${ROOT}README.md`)).replace(/\s+/g, " ");
  const stated = LAYERS.map((l) => l.map((f) => `\`${f}\``).join(", ")).join(" < ");
  assert(readme.includes(stated), `README lacks the order: ${stated}`);
});

Deno.test("docs: comments and the README name only files that exist", () => {
  const named =
    /\b((?:lib|bench|reports|workers|docs|scripts)\/[A-Za-z0-9_./-]+\.(?:ts|md|py|c|sh))\b/g;
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory && !["node_modules", ".git", "tests", "examples"].includes(e.name)) {
        walk(path);
      } else if (e.isFile && /\.(ts|md)$/.test(e.name) && !path.endsWith("_test.ts")) {
        for (const m of Deno.readTextFileSync(`${ROOT}${path}`).matchAll(named)) {
          try {
            Deno.statSync(`${ROOT}${m[1]}`);
          } catch {
            missing.push(`${path} names ${m[1]}`);
          }
        }
      }
    }
  };
  walk("");
  assertEquals(missing.filter((m) => !m.startsWith("lib/testing/layering.ts")), []);
});
