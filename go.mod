module github.com/gravestench/servicemesh

go 1.25

require (
	github.com/gravestench/eventemitter v0.0.0-20230922020814-8ccd81f6aaf9
	github.com/stretchr/testify v1.11.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/kr/text v0.1.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
