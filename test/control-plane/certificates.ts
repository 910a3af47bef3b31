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
  /**
   * The aggregation layer's: the CA that extension API servers (KEDA's metrics API, metrics-server) trust
   * for the apiserver's proxied requests, and the client certificate the apiserver proxies them with.
   */
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
}

/** The common name the apiserver's proxy client certificate carries (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT_NAME = "front-proxy-client";

const openssl = (dir: string, args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function selfSignedCa(dir: string, name: string, subject: string): void {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    subject,
  ]);
}

/** Signs `<dir>/<name>.crt` (key beside it) with the CA `<ca>.crt`/`<ca>.key` (relative to `dir`, or absolute). */
function signedCertificate(dir: string, name: string, subject: string, extensions: string, ca = "ca"): void {
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
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * A CA, the apiserver's serving certificate (loopback and in-cluster names), an admin client certificate,
 * and the aggregation layer's own CA and proxy client certificate (kept apart from the cluster CA, as
 * kubeadm and EKS do: a certificate of the cluster CA must not pass as the apiserver's proxy).
 */
export function generateCertificates(dir: string): ControlPlaneCertificates {
  selfSignedCa(dir, "ca", "/CN=mesh-test-control-plane-ca");
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
  selfSignedCa(dir, "front-proxy-ca", "/CN=mesh-test-front-proxy-ca");
  signedCertificate(
    dir,
    "front-proxy-client",
    `/CN=${FRONT_PROXY_CLIENT_NAME}`,
    "extendedKeyUsage=clientAuth\n",
    "front-proxy-ca",
  );
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
    frontProxyCaCert: join(dir, "front-proxy-ca.crt"),
    frontProxyClientCert: join(dir, "front-proxy-client.crt"),
    frontProxyClientKey: join(dir, "front-proxy-client.key"),
  };
}

/**
 * A kubelet's serving certificate, signed by the cluster CA for the node's name and address: what EKS's
 * kubelets present (their serving CSRs approved into the cluster CA). Clients that trust the cluster CA and
 * dial the node's InternalIP verify it, as metrics-server does with its in-cluster CA, no
 * --kubelet-insecure-tls.
 */
export function kubeletServingCertificate(
  certificates: ControlPlaneCertificates,
  dir: string,
  node: { name: string; ip: string },
): { cert: string; key: string } {
  signedCertificate(
    dir,
    "kubelet-serving",
    `/O=system:nodes/CN=system:node:${node.name}`,
    [`subjectAltName=IP:${node.ip},DNS:${node.name}`, "extendedKeyUsage=serverAuth", ""].join("\n"),
    certificates.caCert.replace(/\.crt$/, ""),
  );
  return { cert: join(dir, "kubelet-serving.crt"), key: join(dir, "kubelet-serving.key") };
}
