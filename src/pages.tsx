/**
 * The HTML frame every server-rendered page shares (/connect, /console): one stylesheet
 * inline (the CSP allows inline styles, never inline scripts), a heading per page, readable
 * without JavaScript. Hono JSX escapes every interpolated value.
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
label{display:block;font-weight:600;margin-top:1rem}
input[type=url],input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font:inherit;cursor:pointer}
.hint{color:#555;font-size:.9rem;margin:.2rem 0}
ol.steps li{margin:.4rem 0}.ok::before{content:"✔ "}.warn::before{content:"⚠ "}.bad::before{content:"✘ "}
.ok{color:#135e13}.warn{color:#7a4b00}.bad{color:#9b1c1c}
.box{border:1px solid #ccc;border-radius:6px;padding:1rem;margin-top:1rem}
body.wide{max-width:84rem}nav{margin-bottom:1rem}nav a{margin-right:1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}caption{text-align:left;font-weight:600}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-size:.9rem;vertical-align:top}
pre{overflow:auto;background:#f6f6f6;padding:.5rem;max-height:30rem;font-size:.8rem}
.figures{display:flex;flex-wrap:wrap;gap:1rem}.figures div{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem}
.figures b{display:block;font-size:1.4rem}form.inline{display:inline}
`;

export function Layout(props: {
  title: string;
  refreshTo?: string;
  /** Links above the page (the console's sections). */
  nav?: Child;
  /** Scripts served by the relay itself (CSP script-src 'self'). */
  scripts?: string[];
  /** Stylesheets served by the relay itself. */
  styles?: string[];
  /** Wide pages (tables, charts). */
  wide?: boolean;
  children: Child;
}) {
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          {props.refreshTo ? (
            <meta http-equiv="refresh" content={`3; url=${props.refreshTo}`} />
          ) : null}
          <title>{props.title} · Packit GitLab relay</title>
          <style>{STYLE}</style>
          {(props.styles ?? []).map((href) => (
            <link rel="stylesheet" href={href} />
          ))}
        </head>
        <body class={props.wide ? "wide" : undefined}>
          {props.nav ? <nav aria-label="Sections">{props.nav}</nav> : null}
          <main>{props.children}</main>
          {(props.scripts ?? []).map((src) => (
            <script src={src} defer />
          ))}
        </body>
      </html>
    </>
  );
}
