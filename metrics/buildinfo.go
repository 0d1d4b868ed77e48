package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// modulePath is MMSB's module, whose version mmsb_build_info reports.
const modulePath = "github.com/mmsb-go/mmsb"

// NewBuildInfoCollector returns the collector of mmsb_build_info, a gauge
// of 1 labelled with MMSB's module version (as the Go build recorded it:
// a release tag, a pseudo-version, or "(devel)" when built from a
// checkout, including one a replace directive points to) and the Go
// version. Register it once per registry.
func NewBuildInfoCollector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "mmsb_build_info",
		Help:        "MMSB build information; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": Version(), "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}

// Version returns the version of MMSB compiled into this program, or
// "unknown" when the binary carries no build information.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return moduleVersion(bi)
}

// moduleVersion finds MMSB in build information: the main module when the
// program is MMSB's own (the CLI, its tests), else a dependency. A replaced
// dependency reports the replacement's version, and "(devel)" when the
// replacement is a directory (a checkout, which has none): reporting the
// version the program required, as it did, named a release that was not
// the code running.
func moduleVersion(bi *debug.BuildInfo) string {
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == modulePath {
			if m.Replace != nil {
				if m.Replace.Version == "" {
					return "(devel)"
				}
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}
