module github.com/gravestench/servicemesh/benchmarks

go 1.25

replace github.com/gravestench/servicemesh => ../

require (
	github.com/gravestench/servicemesh v0.0.0-00010101000000-000000000000
	github.com/samber/do/v2 v2.0.0
	github.com/stretchr/testify v1.11.1
	go.uber.org/fx v1.24.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/gravestench/eventemitter v0.0.0-20230922020814-8ccd81f6aaf9 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/samber/go-type-to-string v1.8.0 // indirect
	go.uber.org/dig v1.19.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.26.0 // indirect
	golang.org/x/sys v0.0.0-20220412211240-33da011f77ad // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
