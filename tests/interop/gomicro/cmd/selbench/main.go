// Command selbench times go-micro v4's selector the way tests/bench/selector_bench times ours: one
// Select of a warm service and one pick from its Next, on a memory registry, per call. It is the
// selector benchmark's same-run peer (Go stays in the tests).
//
//	selbench -nodes 1000 -threads 2 -strategy roundrobin -ms 100
//
// prints one line: "ns <nanoseconds per Select+Next, averaged over the goroutines>".
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go-micro.dev/v4/registry"
	"go-micro.dev/v4/selector"
)

func main() {
	nodes := flag.Int("nodes", 10, "nodes of the service")
	threads := flag.Int("threads", 1, "goroutines selecting at once")
	strategy := flag.String("strategy", "roundrobin", "random or roundrobin")
	ms := flag.Int("ms", 100, "milliseconds each goroutine runs")
	flag.Parse()

	r := registry.NewMemoryRegistry()
	svc := &registry.Service{Name: "bench", Version: "1"}
	for i := 0; i < *nodes; i++ {
		svc.Nodes = append(svc.Nodes, &registry.Node{
			Id: "bench-" + strconv.Itoa(i), Address: "10.0.0.1:" + strconv.Itoa(1000+i)})
	}
	if err := r.Register(svc); err != nil {
		fmt.Fprintln(os.Stderr, "register:", err)
		os.Exit(1)
	}
	s := selector.DefaultSelector
	switch *strategy {
	case "random":
		s = selector.NewSelector(selector.Registry(r), selector.SetStrategy(selector.Random))
	case "roundrobin":
		s = selector.NewSelector(selector.Registry(r), selector.SetStrategy(selector.RoundRobin))
	default:
		fmt.Fprintln(os.Stderr, "unknown strategy", *strategy)
		os.Exit(2)
	}
	if _, err := s.Select("bench"); err != nil { // warms the cache
		fmt.Fprintln(os.Stderr, "select:", err)
		os.Exit(1)
	}
	var sink atomic.Int64
	per := make([]float64, *threads)
	var wg sync.WaitGroup
	budget := time.Duration(*ms) * time.Millisecond
	for t := 0; t < *threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			start := time.Now()
			calls, acc := 0, 0
			for time.Since(start) < budget {
				for i := 0; i < 64; i++ {
					next, err := s.Select("bench")
					if err != nil {
						panic(err)
					}
					node, err := next()
					if err != nil {
						panic(err)
					}
					acc += len(node.Address)
				}
				calls += 64
			}
			per[t] = float64(time.Since(start).Nanoseconds()) / float64(calls)
			sink.Add(int64(acc))
		}(t)
	}
	wg.Wait()
	sum := 0.0
	for _, v := range per {
		sum += v
	}
	fmt.Printf("ns %.1f\n", sum/float64(*threads))
}
