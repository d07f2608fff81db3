// Schemas for the observability files in deploy/, written for this kit from:
// - Prometheus configuration: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
// - Grafana's dashboard JSON model:
//   https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
// Strict where our files fill fields in, so a misspelt key fails the test.

type Schema = Record<string, unknown>;

const str: Schema = { type: "string", minLength: 1 };
const strList: Schema = { type: "array", items: str };
const int: Schema = { type: "integer" };

function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: "object", additionalProperties: false, properties, required };
}

const promRelabel = obj({
  source_labels: strList,
  regex: str,
  replacement: str,
  target_label: str,
  action: { enum: ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep"] },
});
const duration = { type: "string", pattern: "^[0-9]+(ms|s|m|h)$" };

/** A prometheus.yml holding scrape jobs. */
export const PROMETHEUS_CONFIG: Schema = obj(
  {
    scrape_configs: {
      type: "array",
      minItems: 1,
      items: obj(
        {
          job_name: str,
          scrape_interval: duration,
          metrics_path: { type: "string", pattern: "^/" },
          params: { type: "object", additionalProperties: strList },
          authorization: obj({ type: { const: "Bearer" }, credentials_file: str }),
          kubernetes_sd_configs: {
            type: "array",
            items: obj(
              {
                role: { enum: ["pod", "endpoints", "service"] },
                namespaces: obj({ names: strList }),
              },
              ["role"],
            ),
          },
          relabel_configs: { type: "array", items: promRelabel },
        },
        ["job_name"],
      ),
    },
  },
  ["scrape_configs"],
);

const target = obj({ refId: str, expr: str, legendFormat: { type: "string" } }, ["refId", "expr"]);
/** The subset of Grafana's dashboard JSON model our dashboard uses. */
export const GRAFANA_DASHBOARD: Schema = {
  type: "object",
  required: ["title", "uid", "schemaVersion", "panels"],
  properties: {
    title: str,
    uid: { type: "string", pattern: "^[a-zA-Z0-9_-]{1,40}$" },
    schemaVersion: { type: "integer", minimum: 30 },
    templating: obj({
      list: { type: "array", items: { type: "object", required: ["name", "type"] } },
    }),
    panels: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["id", "type", "title", "gridPos", "targets", "datasource"],
        properties: {
          id: int,
          type: { enum: ["timeseries", "stat", "table", "gauge"] },
          title: str,
          gridPos: obj(
            { x: int, y: int, w: { type: "integer", minimum: 1, maximum: 24 }, h: int },
            ["x", "y", "w", "h"],
          ),
          datasource: obj({ type: { const: "prometheus" }, uid: str }, ["type", "uid"]),
          targets: { type: "array", minItems: 1, items: target },
        },
      },
    },
  },
};
