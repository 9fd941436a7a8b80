/** The relay's version, as in package.json; sent in User-Agent on every outbound call. */
export const RELAY_VERSION = "0.1.0";
export const USER_AGENT = `packit-gitlab-relay/${RELAY_VERSION}`;
