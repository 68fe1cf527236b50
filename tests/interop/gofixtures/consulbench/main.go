// The baseline for tests/bench/consul_bench: the same two measurements made
// with Go's official Consul client (github.com/hashicorp/consul/api, the
// library go-micro's Consul plugin is built on), against the same agent.
//
//	consulbench -addr 127.0.0.1:8500 -samples 200 -regs 1000
//
// Prints one line a measurement, in the format consul_bench parses:
//
//	propagation_ms <p50> <p99>
//	register_ms <total for -regs registrations>
package main

import (
	"flag"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"
)

func register(c *api.Client, name, id string, port int) error {
	reg := &api.AgentServiceRegistration{
		ID: id, Name: name, Address: "127.0.0.1", Port: port,
		Check: &api.AgentServiceCheck{TTL: "30s", DeregisterCriticalServiceAfter: "1m5s"},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		return err
	}
	return c.Agent().PassTTL("service:"+id, "")
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8500", "agent")
	samples := flag.Int("samples", 200, "propagation samples")
	regs := flag.Int("regs", 1000, "registrations to time")
	flag.Parse()
	cfg := api.DefaultConfig()
	cfg.Address = *addr
	writer, err := api.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}
	reader, err := api.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}

	// The watcher: a blocking query loop reporting each node id when it first passes.
	seen := make(chan string, 1024)
	go func() {
		known := map[string]bool{}
		var index uint64
		for {
			entries, meta, err := reader.Health().Service("bench-go", "", false,
				&api.QueryOptions{WaitIndex: index, WaitTime: 25 * time.Second})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if meta.LastIndex < index {
				index = 0
			} else {
				index = meta.LastIndex
			}
			for _, e := range entries {
				critical := false
				for _, c := range e.Checks {
					if c.Status == api.HealthCritical {
						critical = true
					}
				}
				if !critical && !known[e.Service.ID] {
					known[e.Service.ID] = true
					seen <- e.Service.ID
				}
			}
		}
	}()

	var lat []float64
	for i := 0; i < *samples; i++ {
		id := fmt.Sprintf("go-%d", i)
		t0 := time.Now()
		if err := register(writer, "bench-go", id, 10000+i); err != nil {
			log.Fatal(err)
		}
		for got := range seen {
			if got == id {
				break
			}
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(lat)
	fmt.Printf("propagation_ms %.3f %.3f\n", lat[len(lat)/2], lat[len(lat)*99/100])

	t0 := time.Now()
	for i := 0; i < *regs; i++ {
		if err := register(writer, "bench-go-many", fmt.Sprintf("many-%d", i), 20000+i); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("register_ms %.1f\n", float64(time.Since(t0).Microseconds())/1000)
	for i := 0; i < *samples; i++ {
		writer.Agent().ServiceDeregister(fmt.Sprintf("go-%d", i))
	}
	for i := 0; i < *regs; i++ {
		writer.Agent().ServiceDeregister(fmt.Sprintf("many-%d", i))
	}
}
