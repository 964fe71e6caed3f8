{{> templates/lib/header.sh }}
{{! Every value reaches bash as one word. }}
CLUSTER={{ cluster.name }}
{{#each nodes as node}}
LABELS_{{ @index }}={{ node.labels | keys | join "," }}
{{#each node.labels as k, v}}
echo {{ k }}={{ v }}
{{/each}}
{{/each}}
NS=({{ network.nameservers | join " " | raw }})
