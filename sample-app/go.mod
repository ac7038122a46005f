module github.com/slipway-ci/slipway/sample-app

go 1.26
