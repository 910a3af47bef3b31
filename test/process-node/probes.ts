import { request } from "node:http";
import { connect } from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";

/** One probe attempt against the pod's address, as the kubelet makes it: true = success. */
export async function probeOnce(probe: V1Probe, container: V1Container, podIP: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const port = containerPort(container, probe.httpGet.port);
    if ((probe.httpGet.scheme ?? "HTTP") !== "HTTP") throw new Error("only HTTP probes are supported");
    return httpProbe(probe.httpGet.host || podIP, port, probe.httpGet.path ?? "/", timeoutMs);
  }
  if (probe.tcpSocket) {
    return tcpProbe(probe.tcpSocket.host || podIP, containerPort(container, probe.tcpSocket.port), timeoutMs);
  }
  throw new Error("only httpGet and tcpSocket probes are supported by the process node");
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function containerPort(container: V1Container, port: number | string): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((candidate) => candidate.name === port);
  if (!named) throw new Error(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

/** 200–399 within the timeout is a success (the kubelet's rule); anything else, a failure. */
function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port,
        path,
        method: "GET",
        agent: false,
        timeout: timeoutMs,
        headers: { "user-agent": "kube-probe/1.36" },
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}
