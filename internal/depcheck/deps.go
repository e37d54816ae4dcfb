// Package depcheck pins the platform's dependencies while the tree is being laid out.
package depcheck

import (
	_ "github.com/FerretDB/FerretDB/ferretdb"
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/cloudevents/sdk-go/v2"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/gorilla/websocket"
	_ "github.com/kelseyhightower/envconfig"
	_ "github.com/minio/minio-go/v7"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "golang.org/x/time/rate"
	_ "knative.dev/eventing/pkg/apis/eventing/v1"
	_ "knative.dev/eventing/pkg/apis/feature"
	_ "knative.dev/eventing/pkg/eventfilter/attributes"
	_ "knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	fn "knative.dev/func/pkg/functions"
	_ "sigs.k8s.io/yaml"
)

var _ = fn.Function{}
