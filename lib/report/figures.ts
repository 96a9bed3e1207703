/**
 * Publication figures without a browser: the report's charts (lib/report/findings.ts, plain
 * Chart.js configurations) drawn by Chart.js on `@napi-rs/canvas` (Skia, shipped as an npm
 * binary), as PNG at print resolution (3x: 2700 x 1620 px for a 900 x 540 figure, 300 dpi at 9
 * inches) and as SVG (text kept as text, for editing), with the same font and colorblind-safe
 * colors as the page, on a white background. Loaded on demand: where the native module cannot
 * load, callers get the reason and the report goes on without SVGs.
 *
 * @module
 */

import { type ChartSpec, FONT_FAMILY } from "./charts.ts";

/** Draws charts. */
export interface FigureRenderer {
  /**
   * @param config A Chart.js configuration (plain JSON).
   * @param scale Pixel density. @default 3
   * @returns PNG bytes.
   */
  png(config: Record<string, unknown>, scale?: number): Promise<Uint8Array>;
  /**
   * @param config A Chart.js configuration.
   * @returns SVG text.
   */
  svg(config: Record<string, unknown>): string;
}

/** Figure size in CSS pixels. */
export const FIGURE_SIZE = { width: 900, height: 540 } as const;

const background = {
  id: "pbBackground",
  beforeDraw(chart: {
    ctx: { save(): void; restore(): void; fillStyle: unknown; fillRect(...a: number[]): void };
    width: number;
    height: number;
  }) {
    chart.ctx.save();
    chart.ctx.fillStyle = "#ffffff";
    chart.ctx.fillRect(0, 0, chart.width, chart.height);
    chart.ctx.restore();
  },
};

let loaded: Promise<FigureRenderer | { error: string }> | undefined;

/**
 * Loads the renderer (once).
 *
 * @returns The renderer, or why it cannot load here.
 */
export function loadFigureRenderer(): Promise<FigureRenderer | { error: string }> {
  loaded ??= (async () => {
    try {
      const canvas = await import("@napi-rs/canvas");
      const chartjs = await import("chart.js");
      chartjs.Chart.register(...chartjs.registerables, background);
      chartjs.Chart.defaults.font.family = FONT_FAMILY;
      chartjs.Chart.defaults.font.size = 14;
      // deno-lint-ignore no-explicit-any
      const draw = (context: any, config: Record<string, unknown>, scale: number) => {
        const options = {
          ...(config.options as object),
          devicePixelRatio: scale,
          responsive: false,
          animation: false,
        };
        // deno-lint-ignore no-explicit-any
        const chart = new chartjs.Chart(context, { ...structuredClone(config), options } as any);
        return chart;
      };
      return {
        async png(config, scale = 3) {
          // Chart.js multiplies the canvas by devicePixelRatio itself.
          const c = canvas.createCanvas(FIGURE_SIZE.width, FIGURE_SIZE.height);
          const chart = draw(c.getContext("2d"), config, scale);
          const bytes = await c.encode("png");
          chart.destroy();
          return new Uint8Array(bytes);
        },
        svg(config) {
          const c = new canvas.Canvas(
            FIGURE_SIZE.width,
            FIGURE_SIZE.height,
            canvas.SvgExportFlag.NoPrettyXML,
          );
          const chart = draw(c.getContext("2d"), config, 1);
          const text = (c as unknown as { getContent(): Uint8Array }).getContent();
          chart.destroy();
          return new TextDecoder().decode(text);
        },
      } satisfies FigureRenderer;
    } catch (error) {
      return {
        error: `the canvas library did not load (${(error as Error).message.split("\n")[0]})`,
      };
    }
  })();
  return loaded;
}

/**
 * Draws every drawable chart as SVG.
 *
 * @param charts The charts.
 * @returns SVG by chart id, or why there are none.
 */
export async function chartSvgs(
  charts: ChartSpec[],
): Promise<{ svgs: Record<string, string> } | { error: string }> {
  const renderer = await loadFigureRenderer();
  if ("error" in renderer) return renderer;
  const svgs: Record<string, string> = {};
  for (const c of charts) if ("config" in c) svgs[c.id] = renderer.svg(c.config);
  return { svgs };
}
