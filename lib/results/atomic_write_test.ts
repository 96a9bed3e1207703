import { writeTextFileAtomic } from "./atomic_write.ts";
import { assert, assertEquals, assertRejects } from "../testing/asserts.ts";

Deno.test("atomic write: readers see the old or the new content, never a torn file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/results.json`;
  const versions = Array.from(
    { length: 20 },
    (_, i) => JSON.stringify({ i, pad: "x".repeat(200_000) }),
  );
  await writeTextFileAtomic(path, versions[0]);
  let reads = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      const text = await Deno.readTextFile(path);
      JSON.parse(text); // throws on a torn file
      reads++;
      await new Promise((r) => setTimeout(r, 0));
    }
  })();
  for (const v of versions) await writeTextFileAtomic(path, v);
  stop = true;
  await reader;
  assert(reads > 0);
  assertEquals(JSON.parse(await Deno.readTextFile(path)).i, 19);
  // No temporary files are left behind.
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["results.json"]);
});

Deno.test("atomic write: a missing folder is an error and leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => writeTextFileAtomic(`${dir}/nope/x.json`, "{}"), Deno.errors.NotFound);
  assertEquals([...Deno.readDirSync(dir)].length, 0);
});
