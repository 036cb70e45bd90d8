// Renders TeX to HTML with KaTeX, one JSON request per line on stdin:
//   {"tex": "...", "display": true}  ->  {"html": "..."} or {"error": "..."}
// One long-lived process serves the whole MkDocs build (see hooks/katex_math.py).
"use strict";
const katex = require("katex");
const readline = require("readline");

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on("line", (line) => {
  let reply;
  try {
    const req = JSON.parse(line);
    reply = {
      html: katex.renderToString(req.tex, {
        displayMode: req.display,
        throwOnError: true, // a LaTeX error must fail the build, not render red text
        strict: "error",
        output: "htmlAndMathml", // MathML keeps formulas readable by screen readers
      }),
    };
  } catch (err) {
    reply = { error: String(err.message || err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
