{
  "variables": {
    "gloo%": "<!(node scripts/has-gloo.cjs)"
  },
  "targets": [
    {
      "target_name": "convkit",
      "sources": ["<!@(node scripts/native-sources.cjs)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2", "-O0", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags": ["-O3", "-fexceptions", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fno-math-errno", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CFLAGS": ["-O3"]
      }
    }
  ],
  "conditions": [
    [
      "gloo==1",
      {
        "targets": [
          {
            "target_name": "convkit_gloo",
            "type": "shared_library",
            "product_prefix": "",
            "product_dir": "<(PRODUCT_DIR)",
            "sources": ["native/comm/gloo_shim/gloo_shim.cc", "native/comm/gloo_shim/tcp_store_client.cc"],
            "cflags!": ["-fno-exceptions", "-O2", "-O0"],
            "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2", "-O0", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
            "cflags": ["-O2", "-fexceptions", "-fvisibility=hidden", "-Wall"],
            "cflags_cc": ["-O2", "-std=c++17", "-fexceptions", "-pthread"],
            "ldflags": ["-pthread"],
            "libraries": ["-lgloo"]
          }
        ]
      }
    ]
  ]
}
