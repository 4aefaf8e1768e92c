package dev.sparktune.tokenize;

import java.util.Optional;

/** The special tokens a model's tokenizer_config.json names; a component is null when the model has none. */
public record SpecialTokens(SpecialToken bos, SpecialToken eos, SpecialToken pad, SpecialToken unk) {

    public Optional<SpecialToken> bosToken() {
        return Optional.ofNullable(bos);
    }

    public Optional<SpecialToken> eosToken() {
        return Optional.ofNullable(eos);
    }

    public Optional<SpecialToken> padToken() {
        return Optional.ofNullable(pad);
    }

    public Optional<SpecialToken> unkToken() {
        return Optional.ofNullable(unk);
    }
}
