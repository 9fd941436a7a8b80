import { describe, expect, it } from "vitest";
import { locate } from "../../src/connect/connect-target";
import { isRelayHookUrl, webhookUrlFor } from "../../src/domain/webhook-paths";
import type { InstanceRow } from "../../src/storage/instances-repo";

const instance = (url: string): InstanceRow => ({
  id: url,
  url,
  api_token_enc: "",
  created_at: 0,
  updated_at: 0,
  credential_broken_at: null,
  paused_until: null,
  oauth_client_id: null,
  oauth_client_secret_enc: null,
});
const instances = [
  instance("https://gitlab.com"),
  instance("https://git.example.org/gitlab"),
  instance("https://git.example.org/gitlab/nested"),
];

describe("locate: a URL as a browser shows it → instance and path", () => {
  it.each([
    ["https://gitlab.com/fedora/python-rpm", "https://gitlab.com", "fedora/python-rpm"],
    ["https://gitlab.com/fedora/python-rpm/", "https://gitlab.com", "fedora/python-rpm"],
    ["https://gitlab.com/fedora/python-rpm.git", "https://gitlab.com", "fedora/python-rpm"],
    ["https://gitlab.com/fedora/python-rpm/-/tree/main", "https://gitlab.com", "fedora/python-rpm"],
    ["https://gitlab.com/groups/fedora/sub", "https://gitlab.com", "fedora/sub"],
    ["  https://gitlab.com/fedora  ", "https://gitlab.com", "fedora"],
    [
      "https://gitlab.com/fedora/python-rpm?tab=readme#top",
      "https://gitlab.com",
      "fedora/python-rpm",
    ],
    // The longest registered URL wins: an instance under a path of another.
    ["https://git.example.org/gitlab/nested/a/b", "https://git.example.org/gitlab/nested", "a/b"],
    ["https://git.example.org/gitlab/a/b", "https://git.example.org/gitlab", "a/b"],
  ])("%s", (input, url, path) => {
    const located = locate(input, instances);
    expect(located.instance.url).toBe(url);
    expect(located.path).toBe(path);
  });

  it.each([
    ["not a url", 400],
    ["https://gitlab.com", 400],
    ["https://gitlab.com/fedora/../x", 400],
    ["https://gitlab.com/fedora/.%2E/x", 400],
    ["https://gitlab.com/fedora\\x", 400],
    ["https://gitlab.com.evil.example/fedora/x", 404],
    ["https://gitlab.comx/fedora/x", 404],
    ["http://gitlab.com/fedora/x", 404],
    ["https://gitlab.com/fedora/%2e%2e/x", 400],
    ["https://gitlab.com/fedora//x", 400],
    ["https://gitlab.com/-/profile", 400],
  ])("refuses %s (%i)", (input, status) => {
    expect(() => locate(input, instances)).toThrow(expect.objectContaining({ status }));
  });
});

describe("the relay's own hooks", () => {
  const relay = webhookUrlFor("https://relay.example.org/connect/api/connect");
  it("is the relay's origin and first webhook path", () => {
    expect(relay).toBe("https://relay.example.org/webhooks/gitlab");
  });
  it.each([
    ["https://relay.example.org/webhooks/gitlab", true],
    ["https://relay.example.org/api/webhooks/gitlab", true],
    ["https://relay.example.org/webhooks/gitlab/", true],
    ["https://relay.example.org/webhooks/gitlab?x=1", true],
    ["https://relay.example.org:8443/webhooks/gitlab", false],
    ["https://other.example.org/webhooks/gitlab", false],
    ["https://relay.example.org/elsewhere", false],
    ["not a url", false],
  ])("%s → %s", (hook, mine) => {
    expect(isRelayHookUrl(hook, relay)).toBe(mine);
  });
});
