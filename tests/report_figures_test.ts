// Figures and tables for papers without a browser: `deno task report --figures DIR` draws every
// chart as PNG (print resolution) and SVG through Chart.js on @napi-rs/canvas; `--latex FILE`
// writes booktabs tables. The PNGs are decoded and checked for size and ink, the SVGs parsed for
// structure, the LaTeX checked without a TeX install.
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { fixtureResults } from "../lib/testing/results_fixture.ts";
import { assert, assertEquals } from "../lib/testing/asserts.ts";
import { runTask } from "../lib/testing/run_deno.ts";
import { deadlineTest } from "../lib/testing/system.ts";

deadlineTest(
  "report --figures writes PNG and SVG per chart; --latex writes balanced booktabs tables",
  async () => {
    const dir = await Deno.makeTempDir();
    const results = fixtureResults([
      { point: "tp_p2 50%", stepMs: 100, joulesPerStep: 10 },
      { point: "phantom_p2 #1 & co", mode: "phantom", stepMs: 60, joulesPerStep: 6 },
      { point: "tp-p4", ranks: 4, stepMs: 120, joulesPerStep: 12 },
    ]);
    await Deno.writeTextFile(`${dir}/bench-f.json`, JSON.stringify(results));
    const r = await runTask("report", [
      `${dir}/bench-f.json`,
      "--out",
      `${dir}/r.html`,
      "--figures",
      `${dir}/fig`,
      "--latex",
      `${dir}/tables.tex`,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const files = [...Deno.readDirSync(`${dir}/fig`)].map((e) => e.name).sort();
    const pngs = files.filter((f) => f.endsWith(".png"));
    assert(pngs.length >= 8 && files.length === 2 * pngs.length, files.join(" "));
    for (const name of pngs) {
      const img = await loadImage(await Deno.readFile(`${dir}/fig/${name}`));
      assertEquals([img.width, img.height], [2700, 1620], name);
      const c = createCanvas(img.width, img.height);
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, img.width, img.height).data;
      // Ink (axes, text) and color (the data: TP blue, phantom vermillion).
      let ink = 0, color = 0;
      for (let i = 0; i < px.length; i += 4 * 7) {
        if (px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200) ink++;
        if (Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 80) {
          color++;
        }
      }
      assert(
        ink > 1000 && color > 20,
        `${name} looks blank (${ink} inked, ${color} colored samples)`,
      );
      const svg = await Deno.readTextFile(`${dir}/fig/${name.replace(/\.png$/, ".svg")}`);
      assert(
        /^(<\?xml[^>]*>\s*)?<svg[^>]*width="900"[^>]*height="540"/.test(svg),
        svg.slice(0, 200),
      );
      assert(svg.trimEnd().endsWith("</svg>") && /<path/.test(svg) && /<text/.test(svg), name);
    }
    const tex = await Deno.readTextFile(`${dir}/tables.tex`);
    for (const env of ["table", "tabular"]) {
      assertEquals(tex.split(`\\begin{${env}}`).length, tex.split(`\\end{${env}}`).length, env);
    }
    assert(tex.includes("phantom\\_p2 \\#1 \\& co") && tex.includes("tp\\_p2 50\\%"), tex);
    assert(tex.includes("\\toprule") && tex.includes("Phantom / TP at matching points"));
  },
);
