// JSON Schemas for every manifest in deploy/, written for this kit (not copied) from these
// sources, and strict (additionalProperties: false) at the levels our manifests fill in, so a
// misspelt field fails the test instead of being ignored by the API server:
// - GameServerSet: OpenKruiseGame CRD config/crd/bases/game.kruise.io_gameserversets.yaml
//   (openkruise/kruise-game @ d76ace21) and its Kubernetes-Ingress network docs
//   (openkruise.io kruisegame/user-manuals/network.md).
// - WasmPlugin: Higress CRD helm/core/crds/customresourcedefinitions.gen.yaml
//   (alibaba/higress @ 4e0d6914); its defaultConfig is checked against plugin.yaml's schema.
// - Service, Secret, ServiceAccount, Deployment, Role, RoleBinding: Kubernetes API reference
//   (https://kubernetes.io/docs/reference/kubernetes-api/), the fields we use.
// - PodMonitor: Prometheus Operator API reference, monitoring.coreos.com/v1
//   (https://prometheus-operator.dev/docs/api-reference/api/).
// Prometheus and Grafana files: observability-schemas.ts.

type Schema = Record<string, unknown>;

const str: Schema = { type: "string", minLength: 1 };
const strMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const strList: Schema = { type: "array", items: str };
const int: Schema = { type: "integer" };
const bool: Schema = { type: "boolean" };

function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: "object", additionalProperties: false, properties, required };
}

const metadata = obj(
  {
    name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$" },
    namespace: str,
    labels: strMap,
    annotations: strMap,
  },
  ["name", "namespace"],
);

function resource(
  apiVersion: string,
  kind: string,
  extra: Record<string, Schema>,
  required: string[],
): Schema {
  return obj({ apiVersion: { const: apiVersion }, kind: { const: kind }, metadata, ...extra }, [
    "apiVersion",
    "kind",
    "metadata",
    ...required,
  ]);
}

const fieldRef = obj({ fieldRef: obj({ fieldPath: str }, ["fieldPath"]) }, ["fieldRef"]);
const envVar = obj({ name: str, value: { type: "string" }, valueFrom: fieldRef }, ["name"]);
const port = obj({ name: str, containerPort: int, protocol: { enum: ["TCP", "UDP", "SCTP"] } }, [
  "containerPort",
]);
const httpProbe = obj(
  { httpGet: obj({ path: str, port: { type: ["string", "integer"] } }, ["port"]) },
  ["httpGet"],
);
const container = obj(
  {
    name: str,
    image: str,
    command: strList,
    args: strList,
    ports: { type: "array", items: port },
    env: { type: "array", items: envVar },
    volumeMounts: {
      type: "array",
      items: obj({ name: str, mountPath: str, readOnly: bool }, ["name", "mountPath"]),
    },
    readinessProbe: httpProbe,
    livenessProbe: httpProbe,
    resources: obj({ requests: strMap, limits: strMap }),
    securityContext: obj({
      allowPrivilegeEscalation: bool,
      readOnlyRootFilesystem: bool,
      capabilities: obj({ drop: strList, add: strList }),
    }),
  },
  ["name", "image"],
);
const keyItems = { type: "array", items: obj({ key: str, path: str }, ["key", "path"]) };
const volume = obj(
  {
    name: str,
    configMap: obj({ name: str, defaultMode: int, items: keyItems }, ["name"]),
    secret: obj({ secretName: str, defaultMode: int, items: keyItems }, ["secretName"]),
    downwardAPI: obj(
      {
        items: {
          type: "array",
          items: obj({ path: str, fieldRef: obj({ fieldPath: str }, ["fieldPath"]) }, [
            "path",
            "fieldRef",
          ]),
        },
      },
      ["items"],
    ),
  },
  ["name"],
);
const podSpec = obj(
  {
    serviceAccountName: str,
    containers: { type: "array", minItems: 1, items: container },
    volumes: { type: "array", items: volume },
    securityContext: obj({
      runAsNonRoot: bool,
      runAsUser: int,
      seccompProfile: obj({ type: str }, ["type"]),
    }),
    terminationGracePeriodSeconds: int,
  },
  ["containers"],
);

const gameServerSet = resource(
  "game.kruise.io/v1alpha1",
  "GameServerSet",
  {
    spec: obj(
      {
        replicas: { type: "integer", minimum: 0 },
        lifecycle: obj({
          preDelete: obj({
            labelsHandler: strMap,
            finalizersHandler: strList,
            markPodNotReady: bool,
          }),
        }),
        network: obj(
          {
            networkType: { enum: ["Kubernetes-Ingress"] },
            networkConf: {
              type: "array",
              items: obj(
                {
                  // Kubernetes-Ingress parameters (cloudprovider/kubernetes/ingress.go).
                  name: {
                    enum: [
                      "Path",
                      "PathType",
                      "Port",
                      "IngressClassName",
                      "Host",
                      "TlsHosts",
                      "TlsSecretName",
                      "Annotation",
                      "Fixed",
                    ],
                  },
                  value: { type: "string" },
                },
                ["name", "value"],
              ),
            },
          },
          ["networkType", "networkConf"],
        ),
        gameServerTemplate: obj(
          { metadata: obj({ labels: strMap, annotations: strMap }), spec: podSpec },
          ["spec"],
        ),
        serviceQualities: {
          type: "array",
          items: obj(
            {
              name: str,
              containerName: str,
              permanent: bool,
              periodSeconds: int,
              timeoutSeconds: int,
              initialDelaySeconds: int,
              exec: obj({ command: { ...strList, minItems: 1 } }, ["command"]),
              serviceQualityAction: {
                type: "array",
                items: obj(
                  {
                    state: bool,
                    result: { type: "string" },
                    labels: strMap,
                    annotations: strMap,
                    opsState: str,
                  },
                  ["state"],
                ),
              },
            },
            ["name", "permanent"],
          ),
        },
      },
      ["replicas"],
    ),
  },
  ["spec"],
);

const wasmPlugin = resource(
  "extensions.higress.io/v1alpha1",
  "WasmPlugin",
  {
    spec: obj(
      {
        url: { type: "string", pattern: "^(oci|file|https?)://" },
        phase: { enum: ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"] },
        priority: int,
        failStrategy: { enum: ["FAIL_CLOSE", "FAIL_OPEN"] },
        imagePullPolicy: { enum: ["UNSPECIFIED_POLICY", "IfNotPresent", "Always"] },
        imagePullSecret: str,
        defaultConfig: { type: "object" },
        defaultConfigDisable: bool,
      },
      ["url"],
    ),
  },
  ["spec"],
);

const service = resource(
  "v1",
  "Service",
  {
    spec: obj(
      {
        clusterIP: str,
        publishNotReadyAddresses: bool,
        selector: strMap,
        ports: {
          type: "array",
          minItems: 1,
          items: obj(
            {
              name: str,
              port: int,
              targetPort: { type: ["string", "integer"] },
              protocol: { enum: ["TCP", "UDP"] },
            },
            ["port"],
          ),
        },
      },
      ["selector", "ports"],
    ),
  },
  ["spec"],
);

const secret = resource("v1", "Secret", { type: str, stringData: strMap }, ["stringData"]);
const serviceAccount = resource("v1", "ServiceAccount", { automountServiceAccountToken: bool }, []);
const deployment = resource(
  "apps/v1",
  "Deployment",
  {
    spec: obj(
      {
        replicas: int,
        selector: obj({ matchLabels: strMap }, ["matchLabels"]),
        template: obj({ metadata: obj({ labels: strMap, annotations: strMap }), spec: podSpec }, [
          "metadata",
          "spec",
        ]),
      },
      ["selector", "template"],
    ),
  },
  ["spec"],
);
const role = resource(
  "rbac.authorization.k8s.io/v1",
  "Role",
  {
    rules: {
      type: "array",
      minItems: 1,
      items: obj(
        {
          apiGroups: { type: "array", items: { type: "string" } },
          resources: strList,
          resourceNames: strList,
          // Least privilege: no wildcards, no write verbs beyond patch.
          verbs: { type: "array", minItems: 1, items: { enum: ["get", "list", "watch", "patch"] } },
        },
        ["apiGroups", "resources", "verbs"],
      ),
    },
  },
  ["rules"],
);
const roleBinding = resource(
  "rbac.authorization.k8s.io/v1",
  "RoleBinding",
  {
    roleRef: obj(
      { apiGroup: { const: "rbac.authorization.k8s.io" }, kind: { const: "Role" }, name: str },
      ["apiGroup", "kind", "name"],
    ),
    subjects: {
      type: "array",
      minItems: 1,
      items: obj({ kind: { const: "ServiceAccount" }, name: str, namespace: str }, [
        "kind",
        "name",
        "namespace",
      ]),
    },
  },
  ["roleRef", "subjects"],
);

const relabel = obj({
  sourceLabels: strList,
  regex: str,
  replacement: str,
  targetLabel: str,
  action: { enum: ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"] },
});
const podMonitor = resource(
  "monitoring.coreos.com/v1",
  "PodMonitor",
  {
    spec: obj(
      {
        selector: obj({ matchLabels: strMap }, ["matchLabels"]),
        podMetricsEndpoints: {
          type: "array",
          minItems: 1,
          items: obj(
            {
              port: str,
              path: { type: "string", pattern: "^/" },
              params: { type: "object", additionalProperties: strList },
              interval: { type: "string", pattern: "^[0-9]+(ms|s|m|h)$" },
              authorization: obj(
                {
                  type: { const: "Bearer" },
                  credentials: obj({ name: str, key: str }, ["name", "key"]),
                },
                ["credentials"],
              ),
              relabelings: { type: "array", items: relabel },
            },
            ["port"],
          ),
        },
      },
      ["selector", "podMetricsEndpoints"],
    ),
  },
  ["spec"],
);

/** Kubernetes objects by `apiVersion/kind`. */
export const KUBE_SCHEMAS: Record<string, Schema> = {
  "game.kruise.io/v1alpha1/GameServerSet": gameServerSet,
  "extensions.higress.io/v1alpha1/WasmPlugin": wasmPlugin,
  "v1/Service": service,
  "v1/Secret": secret,
  "v1/ServiceAccount": serviceAccount,
  "apps/v1/Deployment": deployment,
  "rbac.authorization.k8s.io/v1/Role": role,
  "rbac.authorization.k8s.io/v1/RoleBinding": roleBinding,
  "monitoring.coreos.com/v1/PodMonitor": podMonitor,
};
