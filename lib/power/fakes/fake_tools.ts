/**
 * Fake telemetry tools for tests: executables that print what nvidia-smi, amd-smi and rocm-smi
 * print, with power set by environment variables and energy counters that follow the clock.
 *
 * @module
 */

/** Paths of the fake executables. */
export interface FakeTools {
  /** Folder holding them. */
  dir: string;
  /** Fake nvidia-smi: two GPUs at FAKE_SMI_W0 / FAKE_SMI_W1 watts (default 150 / 50). */
  nvidiaSmi: string;
  /** Fake amd-smi: GPU 0 at FAKE_AMD_W watts; its counter runs FAKE_AMD_SCALE times too fast. */
  amdSmi: string;
  /** Fake rocm-smi: like amd-smi, in rocm-smi's JSON shape. */
  rocmSmi: string;
}

const NVIDIA_SMI = `#!/bin/sh
case "$*" in
  *power.draw.instant*)
    if [ -n "$FAKE_SMI_NO_INSTANT" ]; then
      echo 'Field "power.draw.instant" is not a valid field to query.' >&2
      exit 2
    fi ;;
esac
echo "0, Fake NVIDIA H100 80GB HBM3, \${FAKE_SMI_W0:-150.00}"
echo "1, Fake NVIDIA H100 80GB HBM3, \${FAKE_SMI_W1:-50.00}"
`;

const AMD_SMI = `#!/bin/sh
ns=$(date +%s%N)
awk -v ns="$ns" -v p="\${FAKE_AMD_W:-120}" -v k="\${FAKE_AMD_SCALE:-1}" 'BEGIN {
  e = p * k * ((ns % 100000000000000) / 1e9)
  printf "[{\\"gpu\\": 0, \\"power\\": {\\"socket_power\\": {\\"value\\": %s, \\"unit\\": \\"W\\"}}, \\"energy\\": {\\"total_energy_consumption\\": {\\"value\\": %.6f, \\"unit\\": \\"J\\"}}}]\\n", p, e
}'
`;

const ROCM_SMI = `#!/bin/sh
ns=$(date +%s%N)
awk -v ns="$ns" -v p="\${FAKE_AMD_W:-120}" -v k="\${FAKE_AMD_SCALE:-1}" 'BEGIN {
  e = p * k * ((ns % 100000000000000) / 1e3)
  printf "{\\"card0\\": {\\"Current Socket Graphics Package Power (W)\\": \\"%s\\", \\"Accumulated Energy (uJ)\\": \\"%.1f\\"}, \\"system\\": {}}\\n", p, e
}'
`;

/**
 * Writes the fake tools into a new temporary folder.
 *
 * @returns Their paths.
 */
export async function writeFakeTools(): Promise<FakeTools> {
  const dir = await Deno.makeTempDir({ prefix: "fake-tools-" });
  const write = async (name: string, text: string) => {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text, { mode: 0o755 });
    return path;
  };
  return {
    dir,
    nvidiaSmi: await write("nvidia-smi", NVIDIA_SMI),
    amdSmi: await write("amd-smi", AMD_SMI),
    rocmSmi: await write("rocm-smi", ROCM_SMI),
  };
}
