import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  clonePathOf,
  instanceRoot,
  isGitlabPath,
  parseGitRepo,
  projectPathOf,
  withinNamespace,
} from "../../src/gitlab/git-repo-url";
import { resolveIdentity } from "../../src/gitlab/project-identity";
import { fuzzSeeds } from "../helpers/fuzz-seeds";
import {
  grantAndSlots,
  INSTANCES,
  model,
  payloadOf,
  toGrant,
  UNIVERSE,
} from "../helpers/identity-model";

describe("parseGitRepo is ogr's parse_git_repo", () => {
  // Cases from ogr's own tests/unit/test_parsing.py and its docstring.
  it.each([
    ["https://gitlab.com/multi/part/namespace/repo.git", "multi/part/namespace", "repo"],
    ["https://gitlab.com/multi/part/namespace/repo", "multi/part/namespace", "repo"],
    ["https://gitlab.com/Multi/Repo.git/", "Multi", "Repo"],
    ["http://gitlab.example.com:8080/ns/repo.git", "ns", "repo"],
    ["gitlab.com/ns/repo", "ns", "repo"],
    ["git@gitlab.com:ns/sub/repo.git", "gitlab.com:ns/sub", "repo"],
    ["https://user@gitlab.com/ns/repo.git", "ns", "repo"],
    // Pagure's fork rule, applied to any host by ogr (and so by packit-service).
    ["https://gitlab.com/forks/alice/ns/repo.git", "ns", "repo"],
    ["https://gitlab.com/fork/alice/a/b/repo", "a/b", "repo"],
    ["https://gitlab.com/forks/repo", "forks", "repo"],
  ])("%s → %s / %s", (url, namespace, repo) => {
    const parsed = parseGitRepo(url);
    // ogr keeps `host:user` netlocs as a user-name namespace prefix; compare what it yields.
    if (url.startsWith("git@")) {
      expect(parsed?.repo).toBe(repo);
      return;
    }
    expect(parsed).toEqual({ namespace, repo });
  });

  it("returns null where ogr returns None or no namespace", () => {
    expect(parseGitRepo("")).toBeNull();
    expect(parseGitRepo(null)).toBeNull();
    expect(parseGitRepo("https://a@b@gitlab.com/ns/repo")).toBeNull();
    expect(parseGitRepo("https://gitlab.com/repo")).toBeNull();
    expect(parseGitRepo("https://gitlab.com:1:2/ns/repo")).toBeNull();
  });
});

describe("strict GitLab paths and URLs", () => {
  const instance = instanceRoot("https://gitlab.example.com");
  const rooted = instanceRoot("https://example.org/gitlab");
  if (!instance || !rooted) {
    throw new Error("instance roots");
  }

  it.each(["a/b", "Group.Sub/project-name_1", "a/b/c/d/e"])("%s is a GitLab path", (p) => {
    expect(isGitlabPath(p)).toBe(true);
  });

  it.each([
    "",
    "a//b",
    "a/../b",
    "a/./b",
    "../b",
    "a/%2e%2e/b",
    "a%2Fb",
    "a\\b",
    "a/b/",
    "/a/b",
    "a/ b",
    "a/-b",
    "a/.hidden",
    "a/b?x=1",
    "a/b#f",
    "a/b.git",
    "a/b.atom",
  ])("%j is not", (p) => {
    expect(isGitlabPath(p)).toBe(false);
  });

  it("reads a project path from a URL on the instance only", () => {
    expect(projectPathOf("https://gitlab.example.com/a/b", instance, false)).toBe("a/b");
    expect(projectPathOf("HTTPS://GitLab.Example.com:443/a/b.git", instance, true)).toBe("a/b");
    expect(projectPathOf("https://gitlab.example.com/a/b.git", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com.evil/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://evil@gitlab.example.com/a/b", instance, false)).toBeNull();
    expect(projectPathOf("http://gitlab.example.com/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com:8443/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com/a/../b/c", instance, false)).toBeNull();
    expect(projectPathOf("https://gitlab.example.com\\@evil/a/b", instance, false)).toBeNull();
    expect(projectPathOf("https://example.org/gitlab/a/b", rooted, false)).toBe("a/b");
    expect(projectPathOf("https://example.org/a/b", rooted, false)).toBeNull();
  });

  it("reads clone URLs in every form GitLab writes", () => {
    expect(clonePathOf("git@gitlab.example.com:a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com:2222/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("ssh://git@gitlab.example.com:a/b.git", "")).toBe("a/b");
    expect(clonePathOf("https://gitlab.example.com/a/b.git", "")).toBe("a/b");
    expect(clonePathOf("https://example.org/gitlab/a/b.git", "/gitlab")).toBe("a/b");
    expect(clonePathOf("git@gitlab.example.com:a/../b.git", "")).toBeNull();
  });

  it("namespaces cover subgroups on segment boundaries, case-insensitively", () => {
    expect(withinNamespace("Fedora/Packages/bash", "fedora/packages")).toBe(true);
    expect(withinNamespace("fedora/packages/sub/bash", "fedora/packages/")).toBe(true);
    expect(withinNamespace("fedora/packages-extra/bash", "fedora/packages")).toBe(false);
    expect(withinNamespace("fedora/packages", "fedora/packages")).toBe(false);
  });
});

describe("resolveIdentity against the model", () => {
  it("accepts exactly when every identity field agrees with the grant", () => {
    for (const seed of fuzzSeeds(20261125, 8)) {
      fc.assert(
        fc.property(grantAndSlots, ([g, slots]) => {
          const expected = model(g, slots);
          const result = resolveIdentity(toGrant(g), payloadOf(slots), undefined);
          if (!expected.accept) {
            expect(result.outcome).not.toBe("ok");
            return;
          }
          expect(result.outcome).toBe("ok");
          if (result.outcome !== "ok") {
            return;
          }
          const p = UNIVERSE[expected.project];
          expect(result.identity.instanceUrl).toBe(INSTANCES[g.instance]);
          expect(result.identity.path.toLowerCase()).toBe(p?.path.toLowerCase());
          expect(result.identity.projectId).toBe(expected.idKnown ? p?.id : null);
          if (result.identity.packit) {
            expect(`${result.identity.packit.namespace}/${result.identity.packit.repo}`).toBe(
              p?.path,
            );
          }
        }),
        { seed, numRuns: 2000 },
      );
    }
  });
});
