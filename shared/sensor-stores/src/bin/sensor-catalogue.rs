//! `sensor-catalogue --table <name> <catalogue.json>`: puts the sensors of a catalogue file into
//! the deployed catalogue table (sensors of the same ids are replaced, others kept). The AWS
//! configuration comes from the environment as for the functions (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for moto or DynamoDB Local). An invalid file puts nothing and names every
//! invalid field; exit 0 when loaded, 1 when the file or the table failed, 2 for bad usage.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use sensor_stores::{DynamoSensorCatalogue, put_catalogue_file};

const USAGE: &str = "usage: sensor-catalogue --table <table name> <catalogue.json>

Puts the sensors of a catalogue file (a JSON array of {\"sensorId\", \"site\", \"timezone\",
\"metrics\"}) into the sensor catalogue table; AWS settings come from the environment
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).";

/// What to load where.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    table: String,
    file: PathBuf,
}

/// The arguments, `None` for `--help`, or what is wrong with them.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut table, mut file) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--table" => table = Some(args.next().ok_or("--table needs a table name")?),
            _ if arg.starts_with("--table=") => table = Some(arg["--table=".len()..].to_owned()),
            _ if arg.starts_with('-') && arg != "-" => return Err(format!("unknown option {arg}")),
            _ if file.is_some() => return Err(format!("one catalogue file only, not also {arg}")),
            _ => file = Some(PathBuf::from(arg)),
        }
    }
    match (table, file) {
        (Some(table), Some(file)) if !table.is_empty() => Ok(Some(Args { table, file })),
        (None | Some(_), Some(_)) => Err("--table <table name> is required".to_owned()),
        (_, None) => Err("the catalogue file is required".to_owned()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(wrong) => {
            eprintln!("error: {wrong}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let file = args.file.display();
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut loader = handler_kit::lambda::sdk_loader();
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let catalogue = DynamoSensorCatalogue::new(aws_sdk_dynamodb::Client::new(&config), &args.table);
    match put_catalogue_file(&catalogue, &text).await {
        Ok(count) => {
            let _ = writeln!(
                std::io::stdout(),
                "loaded {count} sensors from {file} into {}",
                args.table
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {file}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Args>, String> {
        parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn given_a_table_and_a_file_in_any_order_then_both_are_read_and_anything_else_is_named() {
        let expected = Some(Args {
            table: "Sensors".into(),
            file: "catalogue.json".into(),
        });
        assert_eq!(parsed(&["--table", "Sensors", "catalogue.json"]), Ok(expected));
        assert_eq!(
            parsed(&["catalogue.json", "--table=Sensors"]).map(|a| a.map(|a| a.table)),
            Ok(Some("Sensors".into()))
        );
        assert_eq!(parsed(&["--help"]), Ok(None));
        assert_eq!(parsed(&["c.json"]), Err("--table <table name> is required".into()));
        assert_eq!(parsed(&["--table", "T"]), Err("the catalogue file is required".into()));
        assert_eq!(parsed(&["--table"]), Err("--table needs a table name".into()));
        assert_eq!(
            parsed(&["--tables", "T", "c.json"]),
            Err("unknown option --tables".into())
        );
        assert_eq!(
            parsed(&["--table", "T", "a.json", "b.json"]),
            Err("one catalogue file only, not also b.json".into())
        );
    }
}
