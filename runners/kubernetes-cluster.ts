// Turns a kubernetes actuator's settings (a kubeconfig's text or inCluster, a context, a
// namespace) into the cluster a runner talks to, or into a message saying what to fix. It is read
// once per runner; a problem fails each attempt rather than the runner's creation.
import { BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { messageOf, stripCredentials, type Cluster } from './kubernetes-api.js';

export interface ClusterOptions {
  /** A kubeconfig's YAML text (a resolved secret value); or inCluster. Exactly one. */
  kubeconfig?: string;
  /** Use the service account of the pod eventops runs in. */
  inCluster?: boolean;
  /** The kubeconfig context to use; default its current context. */
  context?: string;
  /** Where Jobs are created; default the context's namespace, else `default`. */
  namespace?: string;
}

/** The cluster, or why the actuator cannot be used (no credentials in the message). */
export function loadCluster(options: ClusterOptions): Cluster | { error: string } {
  const fail = (what: string) => ({ error: `the kubernetes actuator cannot be used: ${what}` });
  if ((options.kubeconfig !== undefined) === (options.inCluster === true)) return fail('give it exactly one of `kubeconfig` (a secret holding a kubeconfig) and `inCluster: true`');
  const kc = new KubeConfig();
  try {
    if (options.kubeconfig !== undefined) {
      kc.loadFromString(options.kubeconfig);
    } else {
      if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) return fail('inCluster is set, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not: is eventops running in a pod?');
      kc.loadFromCluster();
    }
  } catch (error) {
    // Only the first line: YAML errors quote the text around the fault, which may hold a token.
    return fail(`its kubeconfig cannot be read: ${messageOf(error).split('\n')[0]}`);
  }
  const contexts = kc.getContexts().map((c) => c.name);
  if (options.context !== undefined) {
    if (!contexts.includes(options.context)) return fail(`its kubeconfig has no context "${options.context}" (it has: ${contexts.join(', ') || 'none'})`);
    kc.setCurrentContext(options.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) return fail(kc.getCurrentContext() ? `its kubeconfig's current context "${kc.getCurrentContext()}" is not one of its contexts (${contexts.join(', ') || 'none'}); name one with \`context\`` : `its kubeconfig has no current-context; name one with \`context\` (it has: ${contexts.join(', ') || 'none'})`);
  const server = kc.getCurrentCluster();
  if (!server) return fail(`the kubeconfig's context "${context.name}" names a cluster "${context.cluster}" that the kubeconfig does not have`);
  if (server.server.startsWith('http:') && !server.skipTLSVerify) return fail(`the cluster "${server.name}" is served over plain HTTP (${stripCredentials(server.server)}); use https, or set insecure-skip-tls-verify for a test cluster`);
  const namespace = options.namespace ?? context.namespace?.trim() ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) return fail(`"${namespace}" is not a namespace name (lower-case letters, digits and -)`);
  return { kc, core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api), namespace, server: stripCredentials(server.server) };
}
