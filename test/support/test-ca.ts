import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throwaway certificate authority and a server certificate it signs, made with the machine's openssl:
 * what a test needs to serve TLS the way RDS does (a CA the client must be told about, a certificate
 * naming the host) without any real CA's keys.
 */
export interface TestCa {
  dir: string;
  /** The CA's certificate (PEM file): what `sslrootcert` names. */
  caFile: string;
  /** A server certificate and key signed by the CA, for the names in `hosts`. */
  serverCertFile: string;
  serverKeyFile: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** Makes a CA named `name` and a server certificate for `hosts` (DNS names; IPs as "IP:1.2.3.4"). */
export function makeTestCa(name: string, hosts: string[]): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "mesh-test-ca-"));
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`]
      .concat(["-keyout", "ca.key", "-out", "ca.pem"])
      .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]),
    dir,
  );
  const altNames = hosts.map((host) => (host.startsWith("IP:") ? host : `DNS:${host}`)).join(",");
  openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${hosts[0]}`, "-keyout", "server.key"].concat([
      "-out",
      "server.csr",
    ]),
    dir,
  );
  writeFileSync(join(dir, "server.ext"), `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\n`);
  openssl(
    ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"].concat([
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    ]),
    dir,
  );
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function readPem(file: string): string {
  return readFileSync(file, "utf8");
}
