/**
 * The suite's cache folder: built native kernels, the registry of nats-servers it started.
 *
 * @module
 */

/**
 * @param env The environment. @default Deno.env
 * @returns PHANTOM_CACHE_DIR, else $XDG_CACHE_HOME/phantom-bench, else ~/.cache/phantom-bench.
 */
export function suiteCacheDir(env: { get(name: string): string | undefined } = Deno.env): string {
  const home = env.get("HOME");
  return env.get("PHANTOM_CACHE_DIR") ??
    (env.get("XDG_CACHE_HOME") ? `${env.get("XDG_CACHE_HOME")}/phantom-bench` : undefined) ??
    (home ? `${home}/.cache/phantom-bench` : "/tmp/phantom-bench-cache");
}
