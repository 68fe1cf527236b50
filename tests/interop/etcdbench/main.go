// The baseline for tests/bench/etcd_bench: the same measurements made with
// etcd's official Go client (go.etcd.io/etcd/client/v3, the library go-micro's
// etcd plugin is built on), in go-micro's pattern: a lease per node, a put
// with it, a prefix watch with prev_kv, leases kept alive by the client.
//
//	etcdbench -endpoints 127.0.0.1:2379 -samples 200 -regs 1000 -keepalive 10s
//
// Prints one line a measurement, in the format etcd_bench parses:
//
//	propagation_ms <p50> <p99>
//	register_ms <total for -regs registrations>
//	keepalive_cpu_ms <client CPU time while keeping -regs leases alive for -keepalive>
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"sort"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

const prefix = "/micro/registry/"

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func value(name, id string, port int) string {
	return fmt.Sprintf(`{"name":%q,"version":"latest","metadata":null,"endpoints":[{"name":"Bench.Call","request":null,"response":null,"metadata":null}],"nodes":[{"id":%q,"address":"127.0.0.1:%d","metadata":{"protocol":"grpc"}}]}`, name, id, port)
}

func register(c *clientv3.Client, name, id string, port int, ttl int64) (clientv3.LeaseID, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := c.Grant(ctx, ttl)
	if err != nil {
		return 0, err
	}
	_, err = c.Put(ctx, prefix+name+"/"+id, value(name, id, port), clientv3.WithLease(l.ID))
	return l.ID, err
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "members, comma-separated")
	samples := flag.Int("samples", 200, "propagation samples")
	regs := flag.Int("regs", 1000, "registrations to time")
	keep := flag.Duration("keepalive", 10*time.Second, "how long to keep the leases alive")
	flag.Parse()
	cfg := clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second,
		Logger: zap.NewNop()}
	writer, err := clientv3.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	reader, err := clientv3.New(cfg)
	if err != nil {
		log.Fatal(err)
	}

	seen := make(chan string, 1024)
	wc := reader.Watch(context.Background(), prefix+"bench-go/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	go func() {
		for resp := range wc {
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypePut && ev.IsCreate() {
					k := string(ev.Kv.Key)
					seen <- k[strings.LastIndex(k, "/")+1:]
				}
			}
		}
	}()
	var lat []float64
	for i := 0; i < *samples; i++ {
		id := fmt.Sprintf("go-%d", i)
		t0 := time.Now()
		if _, err := register(writer, "bench-go", id, 10000+i, 30); err != nil {
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

	var leases []clientv3.LeaseID
	t0 := time.Now()
	for i := 0; i < *regs; i++ {
		id, err := register(writer, "bench-go-many", fmt.Sprintf("many-%d", i), 20000+i, 6)
		if err != nil {
			log.Fatal(err)
		}
		leases = append(leases, id)
	}
	fmt.Printf("register_ms %.1f\n", float64(time.Since(t0).Microseconds())/1000)

	ctx, cancel := context.WithCancel(context.Background())
	c0 := cpu()
	for _, id := range leases {
		ch, err := writer.KeepAlive(ctx, id)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			for range ch {
			}
		}()
	}
	time.Sleep(*keep)
	fmt.Printf("keepalive_cpu_ms %.1f\n", float64(cpu()-c0)/1e6)
	cancel()
	del, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer dcancel()
	writer.Delete(del, prefix+"bench-go", clientv3.WithPrefix())
	for _, id := range leases {
		writer.Revoke(del, id)
	}
}
