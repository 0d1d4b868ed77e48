package semiring

import "testing"

func benchFn(b *testing.B, name string, parents int, params []byte) {
	fn, _ := Lookup(name)
	inputs := make([][]byte, parents)
	for i := range inputs {
		inputs[i] = make([]byte, 1024)
		for j := 0; j < 128; j++ {
			PutF64(inputs[i], j, float64(i*j%17))
		}
	}
	out := make([]byte, 1024)
	b.SetBytes(int64(parents * 1024))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := fn(inputs, params, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkF64Sum: two 1 KiB float64 parents summed into a 1 KiB page.
func BenchmarkF64Sum(b *testing.B) { benchFn(b, "f64.sum", 2, nil) }

// BenchmarkF64MinPlus: shortest-distance relaxation over 4 parents.
func BenchmarkF64MinPlus(b *testing.B) { benchFn(b, "f64.minplus", 4, f64s(1, 2, 3, 4)) }

func BenchmarkPassthroughAffine(b *testing.B) {
	benchFn(b, "passthrough", 1, PassthroughParams(TransformAffine, 2, 1))
}
