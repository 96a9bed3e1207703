/**
 * Builds the fake libnvidia-ml.so (testing/fake_nvml.c) with the machine's C compiler, once per
 * process, for the NVML backend's tests and the sampler overhead benchmark: the real FFI path
 * against scripted devices (`FAKE_NVML_SCRIPT` names the script file).
 *
 * @module
 */

let built: Promise<string> | undefined;

/**
 * @returns The path of the built library (in a temporary folder).
 * @throws {Error} If the C compiler is missing or fails.
 */
export function buildFakeNvml(): Promise<string> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "fake-nvml-" });
    const library = `${dir}/libnvidia-ml.so.1`;
    const source = new URL("./fake_nvml.c", import.meta.url).pathname;
    const cc = await new Deno.Command("cc", {
      args: ["-shared", "-fPIC", "-O2", "-o", library, source],
      stderr: "piped",
    }).output();
    if (!cc.success) throw new Error(`cc failed: ${new TextDecoder().decode(cc.stderr)}`);
    return library;
  })();
  return built;
}

/**
 * Writes a fake NVML script and points the library at it.
 *
 * @param text The script (e.g. "count 1\npower 0 0 100000\n").
 */
export async function useFakeNvmlScript(text: string): Promise<void> {
  const path = await Deno.makeTempFile({ prefix: "fake-nvml-script-" });
  await Deno.writeTextFile(path, text);
  Deno.env.set("FAKE_NVML_SCRIPT", path);
}
