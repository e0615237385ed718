#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Each intrinsic function, short and long form, nested; pseudo parameters; AWS::NoValue.
//! A `Custom::Probe` resource carries the values under test (types the loader does not know
//! still load; only Ref/GetAtt on them are refused).

mod common;

use common::{error, load, prop};
use serde_json::json;

/// A template with a queue, a bus, a parameter and a mapping, plus a probe with `properties`.
fn with_probe(properties: &str) -> String {
    format!(
        r#"
Parameters:
  Stage:
    Type: String
    Default: dev
  Zones:
    Type: CommaDelimitedList
    Default: "a, b,c"
Mappings:
  Sizes:
    us-east-1: {{Memory: 512, Names: [x, y]}}
    dev: {{Memory: 128}}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${{AWS::StackName}}-bus"
  Probe:
    Type: Custom::Probe
    Properties:
{properties}
"#
    )
}

#[test]
fn given_ref_in_short_and_long_form_when_resolved_then_both_give_the_same_value() {
    let t = load(&with_probe(
        "      Short: !Ref Stage\n      Long: {Ref: Stage}\n      Resource: !Ref Bus\n      LongResource:\n        Ref: Jobs",
    ));
    assert_eq!(prop(&t, "Probe", "Short"), &json!("dev"));
    assert_eq!(prop(&t, "Probe", "Long"), &json!("dev"));
    assert_eq!(prop(&t, "Probe", "Resource"), &json!("local-bus"));
    assert_eq!(
        prop(&t, "Probe", "LongResource"),
        &json!("https://sqs.us-east-1.amazonaws.com/000000000000/jobs")
    );
}

#[test]
fn given_getatt_in_every_form_when_resolved_then_each_gives_the_attribute() {
    let t = load(&with_probe(
        "      Dotted: !GetAtt Jobs.Arn\n      Listed: !GetAtt [Jobs, QueueName]\n      LongList: {Fn::GetAtt: [Bus, Name]}\n      LongDotted: {Fn::GetAtt: Bus.Arn}\n      Attribute: !GetAtt [Jobs, !Sub 'Queue${Suffix}']",
    )
    .replace("  Stage:\n", "  Suffix:\n    Type: String\n    Default: Url\n  Stage:\n"));
    assert_eq!(
        prop(&t, "Probe", "Dotted"),
        &json!("arn:aws:sqs:us-east-1:000000000000:jobs")
    );
    assert_eq!(prop(&t, "Probe", "Listed"), &json!("jobs"));
    assert_eq!(prop(&t, "Probe", "LongList"), &json!("local-bus"));
    assert_eq!(
        prop(&t, "Probe", "LongDotted"),
        &json!("arn:aws:events:us-east-1:000000000000:event-bus/local-bus")
    );
    assert_eq!(
        prop(&t, "Probe", "Attribute"),
        &json!("https://sqs.us-east-1.amazonaws.com/000000000000/jobs")
    );
}

#[test]
fn given_sub_strings_when_resolved_then_parameters_resources_attributes_and_pseudo_parameters_are_substituted() {
    let t = load(&with_probe(concat!(
        "      Param: !Sub '${Stage}-x'\n",
        "      Resource: !Sub 'bus=${Bus}'\n",
        "      Attribute: !Sub '${Jobs.Arn}/${Bus.Name}'\n",
        "      Pseudo: !Sub 'arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}.${AWS::URLSuffix}'\n",
        "      Escaped: !Sub '${!Literal} and ${!Stage} stay, $ and {} too, ${Stage}'\n",
        "      Long:\n        Fn::Sub: '${Stage}'\n",
    )));
    assert_eq!(prop(&t, "Probe", "Param"), &json!("dev-x"));
    assert_eq!(prop(&t, "Probe", "Resource"), &json!("bus=local-bus"));
    assert_eq!(
        prop(&t, "Probe", "Attribute"),
        &json!("arn:aws:sqs:us-east-1:000000000000:jobs/local-bus")
    );
    assert_eq!(
        prop(&t, "Probe", "Pseudo"),
        &json!("arn:aws:s3:us-east-1:000000000000:local.amazonaws.com")
    );
    assert_eq!(
        prop(&t, "Probe", "Escaped"),
        &json!("${Literal} and ${Stage} stay, $ and {} too, dev")
    );
    assert_eq!(prop(&t, "Probe", "Long"), &json!("dev"));
}

#[test]
fn given_sub_with_variables_when_resolved_then_variables_win_and_may_be_intrinsics() {
    let t = load(&with_probe(concat!(
        "      Vars: !Sub\n",
        "        - '${Stage}/${Queue}/${Plain}/${AWS::Region}'\n",
        "        - Stage: shadowed\n",
        "          Queue: !GetAtt Jobs.QueueName\n",
        "          Plain: !Join ['+', [a, b]]\n",
        "      LongVars:\n        Fn::Sub: ['${X}', {X: !Ref Stage}]\n",
    )));
    assert_eq!(prop(&t, "Probe", "Vars"), &json!("shadowed/jobs/a+b/us-east-1"));
    assert_eq!(prop(&t, "Probe", "LongVars"), &json!("dev"));
}

#[test]
fn given_join_select_split_when_nested_then_they_compose() {
    let t = load(&with_probe(concat!(
        "      Join: !Join [':', [a, !Ref Stage, !Sub '${Bus}-x']]\n",
        "      LongJoin: {Fn::Join: ['', [x, {Ref: Stage}]]}\n",
        "      JoinList: !Join ['|', !Ref Zones]\n",
        "      Select: !Select [1, [p, q, r]]\n",
        "      SelectText: !Select ['2', !Split [',', 'u,v,w']]\n",
        "      Split: !Split ['/', !GetAtt Bus.Arn]\n",
        "      Deep: !Select [0, !Split ['-', !Join ['-', [!Select [1, !Ref Zones], !Ref Stage]]]]\n",
        "      LongSelect: {Fn::Select: [0, {Fn::Split: ['.', 'k.l']}]}\n",
    )));
    assert_eq!(prop(&t, "Probe", "Join"), &json!("a:dev:local-bus-x"));
    assert_eq!(prop(&t, "Probe", "LongJoin"), &json!("xdev"));
    assert_eq!(prop(&t, "Probe", "JoinList"), &json!("a|b|c"));
    assert_eq!(prop(&t, "Probe", "Select"), &json!("q"));
    assert_eq!(prop(&t, "Probe", "SelectText"), &json!("w"));
    assert_eq!(
        prop(&t, "Probe", "Split"),
        &json!(["arn:aws:events:us-east-1:000000000000:event-bus", "local-bus"])
    );
    assert_eq!(prop(&t, "Probe", "Deep"), &json!("b"));
    assert_eq!(prop(&t, "Probe", "LongSelect"), &json!("k"));
}

#[test]
fn given_select_out_of_range_when_resolved_then_the_error_names_resource_and_property() {
    let err = error(&with_probe("      Bad: !Select [3, [a, b]]"));
    assert_eq!(err.resource(), Some("Probe"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::Select: index 3 is out of range for a list of 2"
    );
}

#[test]
fn given_base64_when_resolved_then_the_text_is_encoded() {
    let t = load(&with_probe(
        "      Short: !Base64 hello\n      Long: {Fn::Base64: !Sub '${Stage}!'}\n      Empty: !Base64 ''\n      Two: !Base64 ab",
    ));
    assert_eq!(prop(&t, "Probe", "Short"), &json!("aGVsbG8="));
    assert_eq!(prop(&t, "Probe", "Long"), &json!("ZGV2IQ=="));
    assert_eq!(prop(&t, "Probe", "Empty"), &json!(""));
    assert_eq!(prop(&t, "Probe", "Two"), &json!("YWI="));
}

#[test]
fn given_find_in_map_when_keys_are_literal_or_intrinsic_then_the_mapping_value_is_returned() {
    let t = load(&with_probe(concat!(
        "      Region: !FindInMap [Sizes, !Ref AWS::Region, Memory]\n",
        "      Param: !FindInMap [Sizes, !Ref Stage, Memory]\n",
        "      List: {Fn::FindInMap: [Sizes, us-east-1, Names]}\n",
    )));
    assert_eq!(prop(&t, "Probe", "Region"), &json!(512));
    assert_eq!(prop(&t, "Probe", "Param"), &json!(128));
    assert_eq!(prop(&t, "Probe", "List"), &json!(["x", "y"]));
}

#[test]
fn given_find_in_map_inside_sub_variables_and_nested_properties_when_resolved_then_numbers_stay_numbers() {
    let t = load(&with_probe(concat!(
        "      RedrivePolicy:\n",
        "        maxReceiveCount: !FindInMap [Sizes, dev, Memory]\n",
        "      Text: !Sub ['${Stage} has ${Memory} MB', {Memory: !FindInMap [Sizes, !Ref Stage, Memory]}]\n",
    )));
    // A number in a mapping is the number a literal would have been: the local cloud reads it
    // as it would read `maxReceiveCount: 128`.
    assert_eq!(prop(&t, "Probe", "RedrivePolicy.maxReceiveCount"), &json!(128));
    assert_eq!(prop(&t, "Probe", "Text"), &json!("dev has 128 MB"));
}

#[test]
fn given_find_in_map_with_a_missing_map_when_resolved_then_the_error_names_the_lookup_its_place_and_the_maps() {
    let err = error(&with_probe(
        "      Policy:\n        Count: {Fn::FindInMap: [Size, dev, Memory]}",
    ));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Policy.Count: Fn::FindInMap [Size, dev, Memory]: Mappings has no map 'Size' (there are: Sizes)"
    );
    assert_eq!(err.resource(), Some("Probe"));
    assert_eq!(err.path(), Some("Properties.Policy.Count"));
}

#[test]
fn given_find_in_map_with_a_missing_top_level_key_when_resolved_then_the_error_names_the_key_and_the_keys_there_are() {
    let err = error(&with_probe("      Bad: !FindInMap [Sizes, eu-west-1, Memory]"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::FindInMap [Sizes, eu-west-1, Memory]: Mappings.Sizes has no key 'eu-west-1' (there are: dev, us-east-1)"
    );
}

#[test]
fn given_find_in_map_with_a_missing_second_level_key_when_resolved_then_the_error_names_the_key_and_the_keys_there_are()
{
    let err = error(&with_probe("      Bad: !FindInMap [Sizes, us-east-1, Disk]"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::FindInMap [Sizes, us-east-1, Disk]: Mappings.Sizes.us-east-1 has no key 'Disk' (there are: Memory, Names)"
    );
}

#[test]
fn given_find_in_map_with_a_key_from_a_parameter_when_missing_then_the_error_shows_the_resolved_key() {
    let err = error(&with_probe("      Bad: !FindInMap [Sizes, !Ref Stage, Names]"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::FindInMap [Sizes, dev, Names]: Mappings.Sizes.dev has no key 'Names' (there are: Memory)"
    );
}

#[test]
fn given_find_in_map_in_an_output_when_missing_then_the_error_names_the_output() {
    let yaml = format!(
        "{}Outputs:\n  Size:\n    Value: !FindInMap [Sizes, dev, Disk]\n",
        with_probe("      X: 1")
    );
    let err = error(&yaml);
    assert_eq!(
        err.to_string(),
        "Outputs.Size: Value: Fn::FindInMap [Sizes, dev, Disk]: Mappings.Sizes.dev has no key 'Disk' (there are: Memory)"
    );
}

#[test]
fn given_pseudo_parameters_when_referenced_then_they_come_from_the_options() {
    let t = load(&with_probe(concat!(
        "      StackName: !Ref AWS::StackName\n",
        "      Region: !Ref AWS::Region\n",
        "      AccountId: !Ref AWS::AccountId\n",
        "      Partition: !Ref AWS::Partition\n",
        "      URLSuffix: !Ref AWS::URLSuffix\n",
        "      StackId: !Ref AWS::StackId\n",
        "      NotificationARNs: !Ref AWS::NotificationARNs\n",
    )));
    assert_eq!(prop(&t, "Probe", "StackName"), &json!("local"));
    assert_eq!(prop(&t, "Probe", "Region"), &json!("us-east-1"));
    assert_eq!(prop(&t, "Probe", "AccountId"), &json!("000000000000"));
    assert_eq!(prop(&t, "Probe", "Partition"), &json!("aws"));
    assert_eq!(prop(&t, "Probe", "URLSuffix"), &json!("amazonaws.com"));
    assert!(
        prop(&t, "Probe", "StackId")
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:us-east-1:000000000000:stack/local/")
    );
    assert_eq!(prop(&t, "Probe", "NotificationARNs"), &json!([]));
}

#[test]
fn given_an_unknown_pseudo_parameter_when_referenced_then_it_is_an_error() {
    let err = error(&with_probe("      Bad: !Ref AWS::Planet"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Ref: AWS::Planet is not a pseudo parameter"
    );
}

#[test]
fn given_no_value_when_used_as_a_property_or_list_item_then_it_is_removed() {
    let t = load(&with_probe(concat!(
        "      Gone: !Ref AWS::NoValue\n",
        "      Kept: yes\n",
        "      Nested: {Gone: {Ref: AWS::NoValue}, Kept: 1}\n",
        "      List: [a, !Ref AWS::NoValue, b]\n",
        "      Joined: !Join [',', [a, !Ref AWS::NoValue, b]]\n",
    )));
    let probe = t.resource("Probe").unwrap();
    assert!(probe.property("Gone").is_none());
    assert_eq!(prop(&t, "Probe", "Kept"), &json!("yes"));
    assert_eq!(prop(&t, "Probe", "Nested"), &json!({"Kept": 1}));
    assert_eq!(prop(&t, "Probe", "List"), &json!(["a", "b"]));
    assert_eq!(prop(&t, "Probe", "Joined"), &json!("a,b"));
}

#[test]
fn given_no_value_inside_sub_when_resolved_then_it_is_an_error() {
    let err = error(&with_probe("      Bad: !Sub 'x-${AWS::NoValue}'"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::Sub: ${AWS::NoValue} is AWS::NoValue, which has no text"
    );
}

#[test]
fn given_a_list_parameter_inside_sub_when_resolved_then_it_is_an_error() {
    let err = error(&with_probe("      Bad: !Sub 'x-${Zones}'"));
    assert_eq!(
        err.to_string(),
        "Probe: Properties.Bad: Fn::Sub: ${Zones} is a list, not a string"
    );
}

#[test]
fn given_an_unclosed_sub_variable_when_resolved_then_it_is_an_error() {
    let err = error(&with_probe("      Bad: !Sub 'x-${Stage'"));
    assert!(
        err.to_string()
            .starts_with("Probe: Properties.Bad: Fn::Sub: '${' without a closing '}'"),
        "{err}"
    );
}

#[test]
fn given_yaml_scalars_when_resolved_then_their_json_types_are_kept() {
    let t = load(&with_probe(
        "      Int: 10\n      Float: 1.5\n      Bool: true\n      Text: \"10\"\n      Nothing: ~",
    ));
    assert_eq!(prop(&t, "Probe", "Int"), &json!(10));
    assert_eq!(prop(&t, "Probe", "Float"), &json!(1.5));
    assert_eq!(prop(&t, "Probe", "Bool"), &json!(true));
    assert_eq!(prop(&t, "Probe", "Text"), &json!("10"));
    assert_eq!(prop(&t, "Probe", "Nothing"), &json!(null));
}

#[test]
fn given_metadata_with_intrinsics_when_loaded_then_it_is_resolved_too() {
    let t = load(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Metadata:\n      Owner: !Sub '${AWS::StackName}-team'\n      BuildMethod: rust-cargolambda\n",
    );
    assert_eq!(
        t.resource("Q").unwrap().metadata,
        json!({"Owner": "local-team", "BuildMethod": "rust-cargolambda"})
    );
}

#[test]
fn given_a_mapping_value_that_is_an_intrinsic_or_a_map_without_two_levels_when_loaded_then_the_section_is_refused() {
    for mappings in [
        "Mappings:\n  Sizes:\n    dev: {Memory: !Ref Stage}\n",
        "Mappings:\n  Sizes:\n    Memory: 128\n",
    ] {
        let yaml = with_probe("      X: 1").replace(
            "Mappings:\n  Sizes:\n    us-east-1: {Memory: 512, Names: [x, y]}\n    dev: {Memory: 128}\n",
            mappings,
        );
        assert!(yaml.contains(mappings), "the probe template changed: {yaml}");
        let err = error(&yaml);
        assert_eq!(
            err.to_string(),
            "Mappings: must map names to {TopLevelKey: {SecondLevelKey: value}}, without intrinsic functions",
            "{mappings}"
        );
    }
}
