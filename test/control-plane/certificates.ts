import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Paths of the PKI one control plane run uses; generated fresh per run, never reused. */
export interface ControlPlaneCertificates {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** Client certificate of the test's admin user (group system:masters). */
  adminCert: string;
  adminKey: string;
  /** Key pair that signs and verifies service-account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function signedCertificate(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject,
  ]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

/** A CA, the apiserver's serving certificate (loopback and in-cluster names), an admin client certificate. */
export function generateCertificates(dir: string): ControlPlaneCertificates {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=mesh-test-control-plane-ca",
  ]);
  signedCertificate(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    [
      "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "extendedKeyUsage=serverAuth",
      "",
    ].join("\n"),
  );
  signedCertificate(dir, "admin", "/O=system:masters/CN=mesh-test-admin", "extendedKeyUsage=clientAuth\n");
  openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
  openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  return {
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
  };
}
