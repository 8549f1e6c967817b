"""Config builders shared by the weight tests: a toy Llama for hand arithmetic and a compact
way to write a real model's config.json fields."""

# A toy Llama for hand arithmetic: hidden 256, 2 layers, 4 heads of 64 (2 KV heads), MLP 512,
# vocabulary 1000, untied. Per layer: q, o 256·256; k, v 128·256; gate, up 512·256; down 256·512
# = 589,824 Linear weights + 2 norms · 256. Outside: embed and lm_head 1000·256, final norm 256.
TOY = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 512,
       "vocab_size": 1000, "tie_word_embeddings": False, "max_position_embeddings": 4096,
       "torch_dtype": "bfloat16"}


def make_config(mt, h, inter, layers, heads, kv, vocab, max_pos, *, tied=False, hd=None, dtype="bfloat16",
         qc=None, **extra):
    cfg = {"model_type": mt, "hidden_size": h, "intermediate_size": inter,
           "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
           "vocab_size": vocab, "max_position_embeddings": max_pos, "tie_word_embeddings": tied,
           "torch_dtype": dtype, **extra}
    if hd:
        cfg["head_dim"] = hd
    if qc:
        cfg["quantization_config"] = qc
    return cfg
