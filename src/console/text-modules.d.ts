// Files bundled as text by wrangler's `[[rules]] type = "Text"` (wrangler.toml).
declare module "*.min.js" {
  const text: string;
  export default text;
}
declare module "*.min.css" {
  const text: string;
  export default text;
}
