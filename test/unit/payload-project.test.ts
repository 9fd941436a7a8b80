import { describe, expect, it } from "vitest";
import {
  legacyTokenCovers,
  payloadProject,
  registrationCovers,
} from "../../src/ingress/payload-project";

const project = (path: string, id = 1) => ({
  project: {
    id,
    path_with_namespace: path,
    web_url: `https://gitlab.example.com/${path}`,
    git_http_url: `https://gitlab.example.com/${path}.git`,
  },
});

describe("payloadProject", () => {
  it("reads id and path from project, and falls back to project_id and repository.homepage", () => {
    expect(payloadProject(project("a/b", 7))).toMatchObject({ id: 7, path: "a/b" });
    expect(
      payloadProject({ project_id: 9, repository: { homepage: "https://h.example/g/sub/p" } }),
    ).toMatchObject({ id: 9, path: "g/sub/p", webUrl: "https://h.example/g/sub/p" });
    expect(payloadProject({ project: "not an object" })).toEqual({
      id: null,
      path: null,
      webUrl: null,
      gitHttpUrl: null,
    });
  });
});

describe("registrationCovers", () => {
  it("matches a project hook on the numeric id only", () => {
    expect(
      registrationCovers(
        { kind: "project", gitlabProjectId: 7 },
        payloadProject(project("x/y", 7)),
      ),
    ).toBe(true);
    expect(
      registrationCovers(
        { kind: "project", gitlabProjectId: 7 },
        payloadProject(project("x/y", 8)),
      ),
    ).toBe(false);
  });

  it("matches a group hook on its namespace and subgroups, case-insensitively", () => {
    const ns = { kind: "namespace" as const, namespace: "Fedora/Packages" };
    expect(registrationCovers(ns, payloadProject(project("fedora/packages/bash")))).toBe(true);
    expect(registrationCovers(ns, payloadProject(project("fedora/packages/sub/bash")))).toBe(true);
    expect(registrationCovers(ns, payloadProject(project("fedora/packages-extra/bash")))).toBe(
      false,
    );
    expect(registrationCovers(ns, payloadProject(project("fedora/packages")))).toBe(false);
  });
});

describe("legacyTokenCovers (packit-service's validate_token, plus subgroups)", () => {
  const p = payloadProject(project("multi/part/namespace/repo"));
  it.each([
    [{ namespace: "multi/part/namespace", repo_name: "repo" }, true],
    [{ namespace: "multi/part/namespace" }, true],
    [{ namespace: "multi" }, true],
    [{ namespace: "multi/part/namespace", repo_name: "other" }, false],
    [{ namespace: "multi/part", repo_name: "repo" }, false],
    [{ namespace: "mul" }, false],
    [{ namespace: "other" }, false],
  ])("%j covers multi/part/namespace/repo: %s", (claims, expected) => {
    expect(legacyTokenCovers(claims, p)).toBe(expected);
  });

  it("covers nothing when the payload has no project URL", () => {
    expect(legacyTokenCovers({ namespace: "multi" }, payloadProject({}))).toBe(false);
  });
});
