// Command peer is a go-micro v4 node on go-micro's own mDNS registry, for
// micro-cpp's interoperability tests:
//
//	peer register <service> <node id> <host:port>   register, wait for SIGTERM, deregister
//	peer lookup <service>                            print GetService as JSON
//	peer list                                        print ListServices names, one per line
//	peer lookupbench <service> <n>                   n lookups with go-micro's default timeout; prints p50 p99 in ms
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	"go-micro.dev/v4/registry"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer register|lookup|list ...")
		os.Exit(2)
	}
	r := registry.NewRegistry(registry.Timeout(500 * time.Millisecond))
	switch os.Args[1] {
	case "register":
		if len(os.Args) != 5 {
			os.Exit(2)
		}
		svc := &registry.Service{
			Name:    os.Args[2],
			Version: "1.2.3",
			Endpoints: []*registry.Endpoint{{
				Name:     "Peer.Echo",
				Request:  &registry.Value{Name: "Request", Type: "Request"},
				Response: &registry.Value{Name: "Response", Type: "Response"},
			}},
			Nodes: []*registry.Node{{Id: os.Args[3], Address: os.Args[4], Metadata: map[string]string{"lang": "go"}}},
		}
		if err := r.Register(svc); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("registered")
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		<-ch
		if err := r.Deregister(svc); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		time.Sleep(100 * time.Millisecond) // let the goodbye leave
	case "lookup":
		services, err := r.GetService(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := json.Marshal(services)
		fmt.Println(string(b))
	case "list":
		services, err := r.ListServices()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, s := range services {
			fmt.Println(s.Name)
		}
	case "lookupbench":
		n, _ := strconv.Atoi(os.Args[3])
		def := registry.NewRegistry() // go-micro's default 100 ms timeout
		var d []float64
		for i := 0; i < n; i++ {
			t := time.Now()
			if _, err := def.GetService(os.Args[2]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			d = append(d, float64(time.Since(t).Microseconds())/1000)
		}
		sort.Float64s(d)
		fmt.Printf("%.1f %.1f\n", d[len(d)/2], d[(len(d)*99)/100])
	default:
		os.Exit(2)
	}
}
