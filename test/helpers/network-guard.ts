/**
 * Tests never leave the machine. The doubles listen on loopback; a fetch anywhere else
 * (an example hostname standing for a GitLab that is down) fails here the way workerd's
 * fetch fails for a name that does not resolve, and loopback port 9, where nothing listens,
 * the way it fails for a refused connection. Failing here, at the fetch boundary, keeps
 * workerd from printing its own "uncaught exception" lines for every failed socket: the relay
 * sees the same rejected promise either way.
 */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const realFetch = globalThis.fetch;

function urlOf(input: RequestInfo | URL): URL {
  if (input instanceof Request) {
    return new URL(input.url);
  }
  return new URL(String(input));
}

globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
  const url = urlOf(input);
  if (LOOPBACK.has(url.hostname) && url.port !== "9") {
    return realFetch(input, init);
  }
  // Like workerd, the request body is not read when the connection never opens.
  if (LOOPBACK.has(url.hostname)) {
    throw new Error("Network connection lost.");
  }
  throw new Error(`internal error; ${url.hostname} does not resolve (tests stay on loopback)`);
};
