// Package metrics exports an MMSB bus, its tick orchestrator and an RPC
// server to Prometheus.
//
// The collectors here read the snapshots the bus already keeps
// (mmsb.Bus.Metrics, tick.Orchestrator.Metrics) at scrape time, so a bus
// pays nothing extra for being exported. Register them in your own
// registry:
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewBusCollector(bus), metrics.NewBuildInfoCollector())
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every metric is named in base units with the mmsb_ prefix; docs/metrics.md
// lists them with their types, labels and meaning.
package metrics
