import { describe, expect, it } from "vitest";
import { normalizeInstanceUrl } from "../../src/lib/instance-url";

describe("normalizeInstanceUrl", () => {
  it.each([
    ["https://gitlab.com", "https://gitlab.com"],
    ["https://GitLab.com/", "https://gitlab.com"],
    ["https://gitlab.com:443", "https://gitlab.com"],
    ["https://git.example.org:8443/gitlab//", "https://git.example.org:8443/gitlab"],
    ["  https://salsa.debian.org  ", "https://salsa.debian.org"],
  ])("%s becomes %s", (input, expected) => {
    expect(normalizeInstanceUrl(input, false)).toEqual({ ok: true, url: expected });
  });

  it.each([
    ["gitlab.com", false],
    ["http://gitlab.com", false],
    ["https://u:p@gitlab.com", false],
    ["https://gitlab.com/?x=1", false],
    ["https://gitlab.com/#x", false],
    ["javascript:alert(1)", true],
  ])("refuses %s (allowHttp %s)", (input, allowHttp) => {
    expect(normalizeInstanceUrl(input, allowHttp).ok).toBe(false);
  });

  it("allows http only when asked", () => {
    expect(normalizeInstanceUrl("http://localhost:8080", true)).toEqual({
      ok: true,
      url: "http://localhost:8080",
    });
  });
});
