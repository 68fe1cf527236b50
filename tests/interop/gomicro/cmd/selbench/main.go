// Command selbench times go-micro v4's selector the way tests/bench/selector_bench times ours: one
// Select of a warm service and one pick from its Next, on a memory registry, per call. It is the
// selector benchmark's same-run peer (Go stays in the tests).
//
//	selbench -nodes 1000 -threads 2 -strategy roundrobin -ms 100
//
// prints one line: "ns <nanoseconds per Select+Next, averaged over the goroutines>".
//
//	selbench -services 10000 -nodes 10 -sets 1,100,1000,10000 -ms 150
//
// is the scale benchmark's peer (tests/bench/scale_bench): S services of N nodes shaped as
// scale_bench's, every one selected once (go-micro's registry cache then holds them all); prints
// "bytes_per_node <heap growth / nodes>", then "set <k> threads <t> ns <Select+Next>" for each
// working set (services picked at random from the first k) on 1 and 2 goroutines.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
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
	services := flag.Int("services", 0, "scale mode: this many services")
	sets := flag.String("sets", "1,100,1000,10000", "scale mode: working sets")
	flag.Parse()
	if *services > 0 {
		scale(*services, *nodes, *sets, time.Duration(*ms)*time.Millisecond)
		return
	}

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
	ns := timeSelects(s, *threads, time.Duration(*ms)*time.Millisecond, func(int) []string {
		return []string{"bench"}
	})
	fmt.Printf("ns %.1f\n", ns)
}

var sink atomic.Int64

// timeSelects runs `threads` goroutines for `budget`, each doing Select+Next over the service names
// names(goroutine) in turn; returns ns per Select+Next averaged over the goroutines.
func timeSelects(s selector.Selector, threads int, budget time.Duration, names func(int) []string) float64 {
	per := make([]float64, threads)
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			order := names(t)
			start := time.Now()
			calls, acc := 0, 0
			for time.Since(start) < budget {
				for i := 0; i < 64; i++ {
					next, err := s.Select(order[(calls+i)%len(order)])
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
	return sum / float64(threads)
}

func scaleService(i, nodes int) *registry.Service {
	name := "go.micro.srv.scale" + strconv.Itoa(i)
	value := func(n string, fields ...*registry.Value) *registry.Value {
		return &registry.Value{Name: n, Type: n, Values: fields}
	}
	req := value("Request", &registry.Value{Name: "name", Type: "string"},
		&registry.Value{Name: "count", Type: "int32"})
	rsp := value("Response", &registry.Value{Name: "msg", Type: "string"})
	s := &registry.Service{Name: name, Version: "latest", Endpoints: []*registry.Endpoint{
		{Name: "Scale.Call", Request: req, Response: rsp},
		{Name: "Scale.Stream", Request: req, Response: rsp, Metadata: map[string]string{"stream": "true"}},
	}}
	for n := 0; n < nodes; n++ {
		s.Nodes = append(s.Nodes, &registry.Node{
			Id:      fmt.Sprintf("%s-%08x-%04x-4%03x-8%03x-%012x", name, i, n, i&0xfff, n&0xfff, i*31+n),
			Address: fmt.Sprintf("10.%d.%d.%d:50051", i/256%256, i%256, n+1),
			Metadata: map[string]string{"broker": "http", "protocol": "grpc", "registry": "memory",
				"server": "grpc", "transport": "grpc"},
		})
	}
	return s
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func scale(services, nodes int, sets string, budget time.Duration) {
	r := registry.NewMemoryRegistry()
	for i := 0; i < services; i++ {
		if err := r.Register(scaleService(i, nodes)); err != nil {
			fmt.Fprintln(os.Stderr, "register:", err)
			os.Exit(1)
		}
	}
	before := heap()
	s := selector.NewSelector(selector.Registry(r), selector.SetStrategy(selector.RoundRobin))
	for i := 0; i < services; i++ {
		if _, err := s.Select("go.micro.srv.scale" + strconv.Itoa(i)); err != nil {
			fmt.Fprintln(os.Stderr, "select:", err)
			os.Exit(1)
		}
	}
	after := heap()
	fmt.Printf("bytes_per_node %.0f\n", float64(after-before)/float64(services*nodes))
	names := make([]string, services)
	for i := range names {
		names[i] = "go.micro.srv.scale" + strconv.Itoa(i)
	}
	for _, f := range strings.Split(sets, ",") {
		set, err := strconv.Atoi(f)
		if err != nil || set < 1 || set > services {
			fmt.Fprintln(os.Stderr, "bad working set", f)
			os.Exit(2)
		}
		for _, threads := range []int{1, 2} {
			ns := timeSelects(s, threads, budget, func(t int) []string {
				rng := rand.New(rand.NewSource(int64(t + 1)))
				order := make([]string, 4096)
				for i := range order {
					order[i] = names[rng.Intn(set)]
				}
				return order
			})
			fmt.Printf("set %d threads %d ns %.1f\n", set, threads, ns)
		}
	}
}
