// The editor is one script and one stylesheet under the static files of the `core` app,
// with fixed names so that the page template can link them without a manifest.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/editor/",
  build: {
    outDir: "../labelop/core/static/editor",
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      input: "src/editor.ts",
      output: {
        entryFileNames: "editor.js",
        chunkFileNames: "[name].js",
        assetFileNames: "[name][extname]",
      },
    },
  },
});
